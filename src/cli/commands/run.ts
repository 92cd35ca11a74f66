/**
 * `jetport run`: the daemon, with every enabled role, until a shutdown signal.
 * @module
 */
import type { Command } from "../command.ts";
import { CONFIG_HELP, configPath, loadConfigFlag } from "../config_flag.ts";
import { runDaemon } from "../../daemon/daemon.ts";
import { closeLogging, logger, setupLogging } from "../../platform/logging.ts";
import { exitOnSignal, onShutdownSignal, shutdownSignals } from "../../platform/signals.ts";
import { keepRunningOnStrayErrors } from "../../platform/stray_errors.ts";

/** The `run` command. */
export const runCommand: Command = {
  name: "run",
  summary: "run the daemon with every enabled role",
  help: `Usage: jetport run --config FILE

Runs every role whose section is in the config, on one NATS connection, until
${shutdownSignals().join(" or ")}. The first signal stops intake, lets in-flight work finish
within shutdown.grace, gives back unfinished messages, drains the connection and exits 0.
A second signal exits at once with 128 + its number (130 for SIGINT, 143 for SIGTERM).

SIGHUP (systemctl reload) re-reads the config: roles whose section changed restart, the
others keep running; an invalid file is logged and the old config stays. Not on Windows.

The daemon starts even when NATS is down: it keeps connecting and /readyz says 503.

${CONFIG_HELP}
  --watch-config    also reload when the config file changes (off by default)`,
  flags: { string: ["config"], boolean: ["watch-config"] },
  async run(args) {
    const config = await loadConfigFlag(args);
    await setupLogging(config.log);
    const log = logger("daemon");
    const shutdown = Promise.withResolvers<void>();
    const removeSafetyNet = keepRunningOnStrayErrors(log);
    const removeListeners = onShutdownSignal(
      (signal) => {
        log.info("received {signal}; shutting down (send it again to exit at once)", { signal });
        shutdown.resolve();
      },
      (signal) => {
        log.warn("received {signal} again; exiting now", { signal });
        exitOnSignal(signal);
      },
    );
    try {
      return await runDaemon(config, {
        shutdown: shutdown.promise,
        reload: { file: configPath(args), watch: args.flags["watch-config"] === true },
      });
    } finally {
      removeListeners();
      removeSafetyNet();
      await closeLogging();
    }
  },
};
