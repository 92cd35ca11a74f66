/**
 * `jetport service systemd|windows`: prints a ready service definition for the config.
 * @module
 */
import { resolve } from "node:path";
import { type Command, EXIT } from "../command.ts";
import { stringFlag, UsageError } from "../args.ts";
import { CONFIG_HELP, configPath, loadConfigFlag } from "../config_flag.ts";
import { SYSTEMD_DEFAULTS, systemdUnit } from "../../platform/service/systemd.ts";
import {
  parseAccount,
  WINDOWS_DEFAULTS,
  windowsInstallLines,
  winswXml,
} from "../../platform/service/windows.ts";

/** The `service` command. */
export const serviceCommand: Command = {
  name: "service",
  summary: "print a systemd unit or Windows service definition",
  help: `Usage: jetport service systemd|windows --config FILE [flags]

systemd  prints a hardened unit on stdout (install steps in its header comment).
         Writable paths (ReadWritePaths=) come from the config: state_dir, log.file's
         directory, the monitor's output directory, the upload download_dir, and the
         watched directories. \`systemctl reload jetport\` reloads the config (SIGHUP).
windows  prints a WinSW service definition (XML) on stdout and the PowerShell install
         lines on stderr, so \`> jetport-service.xml\` keeps only the XML. WinSW stops
         jetport with Ctrl+C and waits shutdown.grace + 15s before killing it. The
         icacls lines grant the account modify rights on state_dir, the log, output and
         download directories and the watched folders (the watcher writes its cookie file
         there; read-only with cookie_interval: 0). Without WinSW: docs/operations.md.

${CONFIG_HELP}
  --bin PATH        the installed jetport binary
                    (default ${SYSTEMD_DEFAULTS.bin}; Windows ${WINDOWS_DEFAULTS.bin})
  --workdir DIR     working directory; relative paths in the config are resolved
                    against it (default ${SYSTEMD_DEFAULTS.workdir}; Windows ${WINDOWS_DEFAULTS.workdir})
  --config-path P   where the config file lives on the target machine (default: the
                    --config file made absolute; for a Windows definition printed on
                    another OS: WORKDIR\\jetport.yaml)
  --user NAME       systemd: the dedicated system user (default ${SYSTEMD_DEFAULTS.user});
                    windows: the service account (default ${WINDOWS_DEFAULTS.account};
                    also NT AUTHORITY\\NetworkService, DOMAIN\\gmsa$, DOMAIN\\user)
  --name ID         windows: the service id (default ${WINDOWS_DEFAULTS.id})`,
  flags: {
    string: ["config", "bin", "workdir", "config-path", "user", "name"],
    positional: { name: "kind", choices: ["systemd", "windows"] },
  },
  async run(args) {
    const kind = args._[0];
    if (kind !== "systemd" && kind !== "windows") {
      throw new UsageError(`say which: "systemd" or "windows" (got ${kind ?? "nothing"})`);
    }
    const config = await loadConfigFlag(args);
    const given = stringFlag(args, "config-path");
    if (kind === "systemd") {
      console.log(
        systemdUnit({
          config,
          configFile: given ?? resolve(configPath(args)),
          bin: stringFlag(args, "bin") ?? SYSTEMD_DEFAULTS.bin,
          user: stringFlag(args, "user") ?? SYSTEMD_DEFAULTS.user,
          workdir: stringFlag(args, "workdir") ?? SYSTEMD_DEFAULTS.workdir,
        }).trimEnd(),
      );
      return EXIT.ok;
    }
    const workdir = stringFlag(args, "workdir") ?? WINDOWS_DEFAULTS.workdir;
    const account = stringFlag(args, "user") ?? WINDOWS_DEFAULTS.account;
    try {
      parseAccount(account);
    } catch (err) {
      throw new UsageError(`--user: ${(err as Error).message}`);
    }
    const opts = {
      config,
      // A local path means nothing on another OS: there the config is expected in workdir.
      configFile: given ??
        (Deno.build.os === "windows" ? resolve(configPath(args)) : `${workdir}\\jetport.yaml`),
      bin: stringFlag(args, "bin") ?? WINDOWS_DEFAULTS.bin,
      workdir,
      id: stringFlag(args, "name") ?? WINDOWS_DEFAULTS.id,
      account,
    };
    console.log(winswXml(opts).trimEnd());
    console.error(windowsInstallLines(opts).trimEnd());
    return EXIT.ok;
  },
};
