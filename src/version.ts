/**
 * The version and commit of this build. `make build` stamps the commit into `build_info.ts`.
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import { BUILD_COMMIT } from "./build_info.ts";

/** jetport's version (from deno.json). */
export const VERSION: string = denoJson.version;

/** The git commit this build was made from, or `dev`. */
export const COMMIT: string = BUILD_COMMIT;
