/**
 * `jetport validate`: parse and check the config; exit 0, or 2 with every problem listed.
 * @module
 */
import type { Command } from "../command.ts";
import { EXIT } from "../command.ts";
import { CONFIG_HELP, configPath, loadConfigFlag } from "../config_flag.ts";
import { JSON_HELP, jsonProblem, printJson, wantsJson } from "../json.ts";
import { enabledRoles } from "../../roles/schemas.ts";
import { ConfigError, formatPath } from "../../config/errors.ts";
import { provisionerAdvice } from "../../roles/stream_provisioner/checks.ts";
import { dlqAdvice } from "../../roles/dlq_redriver/checks.ts";
import { uploadAdvice } from "../../roles/upload_processor/checks.ts";

/** The `validate` command. */
export const validateCommand: Command = {
  name: "validate",
  summary: "check a config file and list every problem",
  help: `Usage: jetport validate --config FILE [--json]

Parses the YAML, interpolates \${VAR}s, reads *_file secrets and checks every key.
Prints every problem as file:line:column: key.path: message.

${CONFIG_HELP}
${JSON_HELP}
                    {"file","valid","roles":[...],"problems":[{"file","line","column",
                     "path","message"}],"notes":[{"path","message"}]}

Exit codes: 0 valid, 2 invalid.`,
  flags: { string: ["config"], boolean: ["json"] },
  async run(args) {
    const file = configPath(args);
    let config;
    try {
      config = await loadConfigFlag(args);
    } catch (err) {
      if (!(err instanceof ConfigError) || !wantsJson(args)) throw err;
      printJson({
        file,
        valid: false,
        roles: [],
        problems: err.problems.map(jsonProblem),
        notes: [],
      });
      return EXIT.usage;
    }
    const roles = enabledRoles(config);
    // Advice never fails validation: the config works, it could work better.
    const advice = [...provisionerAdvice(config), ...dlqAdvice(config), ...uploadAdvice(config)];
    const notes = advice.map((a) => ({
      path: formatPath(a.path),
      message: a.message,
    }));
    if (wantsJson(args)) {
      printJson({ file, valid: true, roles, problems: [], notes });
      return EXIT.ok;
    }
    console.log(`${file}: ok (roles: ${roles.join(", ") || "none"})`);
    for (const n of notes) console.log(`note: ${n.path}: ${n.message}`);
    return EXIT.ok;
  },
};
