/**
 * Build stamp, rewritten by `make build` before compiling; `dev` in a source checkout.
 * @module
 */

/** The git commit of the build. */
export const BUILD_COMMIT: string = "dev";
