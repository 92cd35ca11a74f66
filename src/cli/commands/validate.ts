/**
 * `jetport validate`: parse and check the config; exit 0, or 2 with every problem listed.
 * @module
 */
import type { Command } from "../command.ts";
import { EXIT } from "../command.ts";
import { CONFIG_HELP, configPath, loadConfigFlag } from "../config_flag.ts";
import { enabledRoles } from "../../config/enabled_roles.ts";
import { formatPath } from "../../config/errors.ts";
import { provisionerAdvice } from "../../roles/stream_provisioner/checks.ts";

/** The `validate` command. */
export const validateCommand: Command = {
  name: "validate",
  summary: "check a config file and list every problem",
  help: `Usage: jetport validate --config FILE

Parses the YAML, interpolates \${VAR}s, reads *_file secrets and checks every key.
Prints every problem as file:line:column: key.path: message.

${CONFIG_HELP}

Exit codes: 0 valid, 2 invalid.`,
  flags: { string: ["config"] },
  async run(args) {
    const config = await loadConfigFlag(args);
    const roles = enabledRoles(config);
    console.log(`${configPath(args)}: ok (roles: ${roles.join(", ") || "none"})`);
    // Advice never fails validation: the config works, it could work better.
    for (const a of provisionerAdvice(config)) {
      console.log(`note: ${formatPath(a.path)}: ${a.message}`);
    }
    return EXIT.ok;
  },
};
