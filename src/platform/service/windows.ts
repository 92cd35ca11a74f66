/**
 * A Windows service for jetport through WinSW (v2 XML format). A Deno binary cannot answer the
 * Service Control Manager itself; WinSW does, starts jetport as a console child, and on stop
 * attaches to that console and sends Ctrl+C (CTRL_C_EVENT), waits `<stoptimeout>`, and only then
 * calls TerminateProcess. jetport treats Ctrl+C (SIGINT) as its graceful shutdown signal.
 *
 * Why WinSW and not NSSM: both send Ctrl+C first, but WinSW's stop timeout and stop order are
 * plain elements of one XML file that this command can generate and an operator can version,
 * and WinSW is maintained (NSSM's last release, 2.24, dates from 2014). `sc.exe create` or
 * `New-Service` alone cannot run jetport.exe: it is not a service program (docs/operations.md).
 * @module
 */
import { win32 } from "node:path";
import { absolute, type ServiceConfig, type ServicePath, servicePaths } from "./paths.ts";
import { STOP_MARGIN_SECONDS } from "./systemd.ts";

/** Where jetport is installed on Windows and how it runs. */
export interface WindowsOptions {
  /** The parsed config. */
  config: ServiceConfig;
  /** The config file as the service will see it (made absolute against `workdir`). */
  configFile: string;
  /** jetport.exe. */
  bin: string;
  /** Working directory (relative config paths are resolved against it). */
  workdir: string;
  /** Service id (and display name). */
  id: string;
  /**
   * The account the service runs as: `NT AUTHORITY\LocalService` (the default),
   * `NT AUTHORITY\NetworkService`, `LocalSystem`, a group managed service account `DOMAIN\name$`,
   * or a user `DOMAIN\name` / `.\name` (WinSW asks for its password at install).
   */
  account: string;
}

/** Defaults for a Windows install. */
export const WINDOWS_DEFAULTS = {
  bin: "C:\\Program Files\\jetport\\jetport.exe",
  workdir: "C:\\ProgramData\\jetport",
  id: "jetport",
  // No password and no rights beyond what the printed icacls lines grant.
  account: "NT AUTHORITY\\LocalService",
} as const;

/** WinSW's log rotation: roll the captured stdout/stderr at 10 MiB (in KiB), keep 8 files. */
const LOG_ROLL_KB = 10240;
const LOG_KEEP_FILES = 8;

/** A service account split the way WinSW's `<serviceaccount>` wants it. */
interface Account {
  /** `<domain>`: `NT AUTHORITY`, a domain, or `.` for the local computer; empty: LocalSystem. */
  domain: string;
  /** `<user>`. */
  user: string;
  /** Password-less: built-in accounts and group managed service accounts. */
  passwordless: boolean;
  /** The name icacls understands. */
  principal: string;
}

/** Splits `DOMAIN\user` (no domain: the local computer) and tells which kind of account it is. */
export function parseAccount(account: string): Account {
  const at = account.lastIndexOf("\\");
  const domain = at < 0 ? "." : account.slice(0, at);
  const user = account.slice(at + 1);
  // Characters Windows does not allow in account names.
  if (!user || /["/\[\]:;|=,+*?<>]/.test(user)) {
    throw new Error(`not a Windows account name: ${account}`);
  }
  if (/^LocalSystem$/i.test(user)) {
    return { domain: "", user: "LocalSystem", passwordless: true, principal: "SYSTEM" };
  }
  const builtin = /^NT AUTHORITY$/i.test(domain) && /^(LocalService|NetworkService)$/i.test(user);
  return {
    domain,
    user,
    passwordless: builtin || user.endsWith("$"),
    // icacls does not know `.`: a local account is named alone.
    principal: domain === "." ? user : `${domain}\\${user}`,
  };
}

/** Escapes text for an XML element or attribute. */
function xmlEscape(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&apos;");
}

/** Quotes a string for PowerShell (single quotes: no variable expansion). */
function psQuote(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** `<stoptimeout>` in seconds: the whole `shutdown.grace` plus time for the drain and flush. */
export function stopTimeoutSeconds(config: ServiceConfig): number {
  return Math.ceil(config.shutdown.grace / 1000) + STOP_MARGIN_SECONDS;
}

/** The `<serviceaccount>` element; LocalSystem is WinSW's default and needs none. */
function serviceAccountXml(account: Account): string {
  if (!account.domain) return "  <!-- LocalSystem: WinSW's default account -->";
  const x = xmlEscape;
  return [
    "  <serviceaccount>",
    `    <domain>${x(account.domain)}</domain>`,
    `    <user>${x(account.user)}</user>`,
    // Other accounts need the "Log on as a service" right; WinSW grants it at install.
    ...(/^NT AUTHORITY$/i.test(account.domain)
      ? []
      : ["    <allowservicelogon>true</allowservicelogon>"]),
    "  </serviceaccount>",
  ].join("\n");
}

/** The WinSW XML service definition. */
export function winswXml(opts: WindowsOptions): string {
  const { config, id } = opts;
  const configFile = absolute(opts.configFile, opts.workdir, "windows");
  const account = parseAccount(opts.account);
  const x = xmlEscape;
  return `<!-- jetport as a Windows service, for WinSW 2.12 (generated by "jetport service windows").
     Save as jetport-service.xml next to WinSW-x64.exe renamed to jetport-service.exe. -->
<service>
  <id>${x(id)}</id>
  <name>${x(id)}</name>
  <description>jetport: file events, uploads, provisioning and dead letters around NATS JetStream</description>
  <executable>${x(opts.bin)}</executable>
  <!-- One <argument> per argument: WinSW quotes each one, so paths with spaces are safe. -->
  <argument>run</argument>
  <argument>--config</argument>
  <argument>${x(configFile)}</argument>
  <workingdirectory>${x(opts.workdir)}</workingdirectory>
  <!-- Stop: Ctrl+C to jetport first (it stops its own handler processes), then wait this long
       (shutdown.grace + ${STOP_MARGIN_SECONDS}s) before TerminateProcess. -->
  <stopparentprocessfirst>true</stopparentprocessfirst>
  <stoptimeout>${stopTimeoutSeconds(config)} sec</stoptimeout>
  <startmode>Automatic</startmode>
  <delayedAutoStart>true</delayedAutoStart>
  <!-- An exit other than 0 (a crash, or a role that cannot start) restarts the service. -->
  <onfailure action="restart" delay="10 sec"/>
  <onfailure action="restart" delay="60 sec"/>
  <resetfailure>1 hour</resetfailure>
${serviceAccountXml(account)}
  <!-- jetport logs to stderr: jetport-service.err.log in <logpath>, rolled by size. -->
  <logpath>${x(opts.workdir)}\\logs</logpath>
  <log mode="roll-by-size">
    <sizeThreshold>${LOG_ROLL_KB}</sizeThreshold>
    <keepFiles>${LOG_KEEP_FILES}</keepFiles>
  </log>
</service>
`;
}

/**
 * The rights the account needs on `p`: modify where jetport writes; on a watched root also modify
 * while the cookie check is on (the watcher creates, rewrites and removes
 * `.jetport-cookie-<watch>` there), read and list only when `cookie_interval` is 0.
 */
export function windowsRight(p: ServicePath, config: ServiceConfig): "(OI)(CI)M" | "(OI)(CI)RX" {
  const watched = p.from.startsWith("roles.watcher");
  const cookie = config.roles.watcher?.cookie_interval !== 0;
  return watched && !cookie ? "(OI)(CI)RX" : "(OI)(CI)M";
}

/** PowerShell lines (as Administrator) that install, grant access to and start the service. */
export function windowsInstallLines(opts: WindowsOptions): string {
  const paths = servicePaths(opts.config, opts.workdir, "windows");
  const account = parseAccount(opts.account);
  const exeDir = win32.dirname(opts.bin);
  const exe = psQuote(`${exeDir}\\jetport-service.exe`);
  const q = psQuote;
  const grant = (path: string, right: string, why: string) =>
    `icacls.exe ${q(path)} /grant ${q(`${account.principal}:${right}`)}   # ${why}`;
  const grants = paths.map((p) => {
    const right = windowsRight(p, opts.config);
    const why = p.from.startsWith("roles.watcher")
      ? `${p.from} (watched${right.endsWith("M") ? "; the cookie file is written here" : ""})`
      : p.from;
    return grant(p.path, right, why);
  });
  const install = account.passwordless
    ? `& ${exe} install`
    : `& ${exe} install /p   # asks for ${opts.account} and its password`;
  return `# Install jetport as a Windows service with WinSW (PowerShell as Administrator):
New-Item -ItemType Directory -Force ${q(exeDir)}, ${q(opts.workdir)}, ${
    q(`${opts.workdir}\\logs`)
  } | Out-Null
${
    paths.filter((p) => !p.from.startsWith("roles.watcher")).map((p) =>
      `New-Item -ItemType Directory -Force ${q(p.path)} | Out-Null`
    ).join("\n")
  }
# Copy jetport.exe to ${opts.bin}, and WinSW-x64.exe (v2.12) as jetport-service.exe beside it;
# save the XML printed on stdout as jetport-service.xml in the same folder.
${grant(opts.workdir, "(OI)(CI)M", "working directory, WinSW logs")}
${grants.join("\n")}
${install}
sc.exe qc ${opts.id}
Start-Service ${opts.id}
Get-Service ${opts.id}
# Logs: Get-Content -Wait -Tail 50 ${q(`${opts.workdir}\\logs\\jetport-service.err.log`)}
# Stop (graceful: Ctrl+C, then up to <stoptimeout>): Stop-Service ${opts.id}
# Config reload: Windows has no SIGHUP; use Restart-Service ${opts.id}
# Remove: Stop-Service ${opts.id}; & ${exe} uninstall
`;
}
