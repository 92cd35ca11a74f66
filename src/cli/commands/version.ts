/**
 * `jetport version`.
 * @module
 */
import type { Command } from "../command.ts";
import { EXIT } from "../command.ts";
import { COMMIT, VERSION } from "../../version.ts";

/** The `version` command. */
export const versionCommand: Command = {
  name: "version",
  summary: "print version, commit and runtime",
  help: `Usage: jetport version

Prints jetport's version, the commit it was built from, and the Deno runtime.`,
  flags: {},
  run() {
    console.log(
      `jetport ${VERSION} (commit ${COMMIT}, deno ${Deno.version.deno}, ${Deno.build.target})`,
    );
    return Promise.resolve(EXIT.ok);
  },
};
