/**
 * `jetport version` (also `jetport --version`, `-V`).
 * @module
 */
import type { Command } from "../command.ts";
import { EXIT } from "../command.ts";
import { JSON_HELP, printJson, wantsJson } from "../json.ts";
import { COMMIT, VERSION } from "../../version.ts";

/** The `version` command. */
export const versionCommand: Command = {
  name: "version",
  summary: "print version, commit and runtime",
  help: `Usage: jetport version [--json]

Prints jetport's version, the commit it was built from, and the Deno runtime.

${JSON_HELP}
                    {"version","commit","deno","v8","typescript","target"}`,
  flags: { boolean: ["json"] },
  run(args) {
    if (wantsJson(args)) {
      printJson({
        version: VERSION,
        commit: COMMIT,
        deno: Deno.version.deno,
        v8: Deno.version.v8,
        typescript: Deno.version.typescript,
        target: Deno.build.target,
      });
    } else {
      console.log(
        `jetport ${VERSION} (commit ${COMMIT}, deno ${Deno.version.deno}, ${Deno.build.target})`,
      );
    }
    return Promise.resolve(EXIT.ok);
  },
};
