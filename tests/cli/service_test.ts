import { parse } from "yaml";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { jetport } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { configSchema } from "../../src/roles/schemas.ts";
import { SYSTEMD_DEFAULTS, systemdQuote, systemdUnit } from "../../src/platform/service/systemd.ts";
import {
  stopTimeoutSeconds,
  WINDOWS_DEFAULTS,
  winswXml,
} from "../../src/platform/service/windows.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A config with every path-bearing key. Parsed by the schema only: the roles need not exist. */
const FULL = configSchema.parse(parse(`
log: { file: /var/log/jetport/jetport.log }
state_dir: ./state
shutdown: { grace: 20s }
roles:
  monitor:
    output: { path: "/srv/monitor out/storage_monitor.log" }
  upload_processor:
    s3: { endpoint: "http://127.0.0.1:9000" }
    download_dir: /srv/uploads
    handler: { exec: ["/bin/true"] }
  watcher:
    watches:
      - { name: storage, path: /home/ops/storage }
      - { name: inbox, path: ./state/inbox }
`));

function systemdAnalyze(): string | undefined {
  try {
    new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null" }).outputSync();
    return "systemd-analyze";
  } catch {
    return undefined;
  }
}

/** Runs `systemd-analyze verify` on `unit`; ExecStart's binary must exist, so a stub is made. */
async function verify(unit: string): Promise<{ code: number; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "jetport-unit-" });
  try {
    const file = `${dir}/jetport-verify.service`;
    await Deno.writeTextFile(file, unit);
    const out = await new Deno.Command("systemd-analyze", {
      args: ["verify", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function stubBinary(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "jetport bin " }); // a space on purpose
  const bin = `${dir}/jetport`;
  await Deno.writeTextFile(bin, "#!/bin/sh\n");
  await Deno.chmod(bin, 0o755);
  return bin;
}

Deno.test("service systemd: hardening, stop timeout, reload and paths from the config", () => {
  const unit = systemdUnit({
    config: FULL,
    configFile: "/etc/jet port/jetport.yaml",
    bin: "/opt/jet port/jetport",
    user: "jetport",
    workdir: "/var/lib/jetport",
  });
  for (
    const line of [
      "User=jetport",
      "Group=jetport",
      "Restart=on-failure",
      "KillSignal=SIGTERM",
      "TimeoutStopSec=35s", // grace 20s + 15s for drain
      "ExecReload=/bin/kill -HUP $MAINPID",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "PrivateTmp=yes",
      "WorkingDirectory=/var/lib/jetport",
      'ExecStart="/opt/jet port/jetport" run --config "/etc/jet port/jetport.yaml"',
      // /home/ops/storage is watched: ProtectHome=yes would hide it.
      "ProtectHome=read-only",
      "StateDirectory=jetport jetport/state",
      "LogsDirectory=jetport",
    ]
  ) assertMatch(unit, new RegExp(`^${RegExp.escape(line)}$`, "m"));
  const rw = /^ReadWritePaths=(.*)$/m.exec(unit)![1];
  // ./state/inbox lies inside state_dir, so it is not listed twice.
  assertEquals(
    rw,
    '-/var/lib/jetport/state -/var/log/jetport "-/srv/monitor out" -/srv/uploads -/home/ops/storage',
  );
});

Deno.test("service systemd: no configured path under /home keeps ProtectHome=yes", () => {
  const config = configSchema.parse({ state_dir: "/srv/jetport" });
  const unit = systemdUnit({ ...SYSTEMD_DEFAULTS, config });
  assertMatch(unit, /^ProtectHome=yes$/m);
  assertMatch(unit, /^ReadWritePaths=-\/srv\/jetport$/m);
  assertMatch(unit, /^TimeoutStopSec=45s$/m); // default grace 30s
});

Deno.test({
  name: "service systemd: the printed unit passes systemd-analyze verify without warnings",
  ignore: !systemdAnalyze(),
  async fn() {
    const bin = await stubBinary();
    const unit = systemdUnit({
      config: FULL,
      configFile: "/etc/jet port/jetport.yaml",
      bin,
      user: "jetport",
      workdir: "/var/lib/jetport",
    });
    const result = await verify(unit);
    assertEquals(result, { code: 0, output: "" });
    await Deno.remove(bin.replace(/\/jetport$/, ""), { recursive: true });
  },
});

Deno.test({
  name: "service systemd: the CLI prints it, and config/systemd/jetport.service matches",
  ignore: !systemdAnalyze(),
  async fn() {
    const bin = await stubBinary();
    const file = await writeConfig(`state_dir: ./data/state\nshutdown: { grace: 10s }\n`);
    const out = await jetport(["service", "systemd", "--config", file, "--bin", bin]);
    assertEquals(out.code, 0, out.stderr);
    assertStringIncludes(out.stdout, `--config ${file}`);
    assertMatch(out.stdout, /^TimeoutStopSec=25s$/m);
    assertEquals(await verify(out.stdout), { code: 0, output: "" });

    // The shipped unit is the one printed for the example config at the default places; only
    // the path lines depend on which roles the example enables.
    const shipped = await Deno.readTextFile(`${ROOT}config/systemd/jetport.service`);
    // The example's watch root must exist for its config to load, as make run does.
    await Deno.mkdir(`${ROOT}test/storage`, { recursive: true });
    const printed = await jetport([
      "service",
      "systemd",
      "--config",
      "config/jetport.example.yaml",
      "--config-path",
      SYSTEMD_DEFAULTS.configFile,
    ]);
    assertEquals(printed.code, 0, printed.stderr);
    const stable = (u: string) =>
      u.split("\n").filter((l) => !/^(#|ReadWritePaths=|ProtectHome=|StateDirectory=)/.test(l));
    assertEquals(
      stable(shipped),
      stable(printed.stdout),
      "regenerate: deno task jetport service systemd --config config/jetport.example.yaml " +
        "--config-path /etc/jetport/jetport.yaml > config/systemd/jetport.service",
    );
    const shippedVerify = await verify(
      shipped.replace(`ExecStart=${SYSTEMD_DEFAULTS.bin}`, `ExecStart=${systemdQuote(bin, true)}`),
    );
    assertEquals(shippedVerify, { code: 0, output: "" });
    await Deno.remove(bin.replace(/\/jetport$/, ""), { recursive: true });
  },
});

Deno.test("service: the CLI prints the WinSW XML on stdout and install lines on stderr", async () => {
  const file = await writeConfig(`state_dir: "D:\\\\jet port\\\\state"\n`);
  const out = await jetport([
    "service",
    "windows",
    "--config",
    file,
    "--config-path",
    "D:\\jet port\\jetport.yaml",
  ]);
  assertEquals(out.code, 0, out.stderr);
  assertMatch(out.stdout, /^<!--[^]*<\/service>\n$/);
  assertStringIncludes(out.stdout, "<argument>D:\\jet port\\jetport.yaml</argument>");
  assertStringIncludes(
    out.stderr,
    "icacls.exe 'D:\\jet port\\state' /grant 'NT AUTHORITY\\LocalService:(OI)(CI)M'",
  );
  // Another account, and one that is not a Windows account name.
  const gmsa = await jetport(["service", "windows", "--config", file, "--user", "CORP\\svc$"]);
  assertEquals(gmsa.code, 0, gmsa.stderr);
  assertStringIncludes(gmsa.stdout, "<domain>CORP</domain>");
  const badUser = await jetport(["service", "windows", "--config", file, "--user", "CORP\\a:b"]);
  assertEquals(badUser.code, 2);
  assertStringIncludes(badUser.stderr, "--user: not a Windows account name: CORP\\a:b");
  const bad = await jetport(["service", "launchd", "--config", file]);
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, `unknown kind "launchd"; expected one of systemd, windows`);
});

/** An element of a (small, generated) XML document. */
interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: XmlElement[];
}

/**
 * Reads the XML jetport generates: elements, attributes, text, comments; throws when ill-formed.
 */
function readXml(xml: string): XmlElement {
  const body = xml.replace(/<!--[^]*?-->/g, "");
  const root: XmlElement = { name: "#document", attrs: {}, text: "", children: [] };
  const stack = [root];
  const tag = /<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w.-]+="[^"]*")*)\s*(\/?)>|([^<]+)/g;
  let consumed = 0;
  for (const m of body.matchAll(tag)) {
    if (m.index !== consumed) throw new Error(`not XML at ${JSON.stringify(body.slice(consumed))}`);
    consumed += m[0].length;
    const top = stack[stack.length - 1];
    if (m[5] !== undefined) {
      top.text += m[5].trim();
      continue;
    }
    const [, closing, name, attrText, selfClosing] = m;
    if (closing) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const attrs = Object.fromEntries(
      [...attrText.matchAll(/([\w.-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]]),
    );
    const el: XmlElement = { name, attrs, text: "", children: [] };
    top.children.push(el);
    if (!selfClosing) stack.push(el);
  }
  if (consumed !== body.length || stack.length !== 1) throw new Error("unclosed element");
  assertEquals(root.children.length, 1, "one root element");
  return root.children[0];
}

/**
 * WinSW 2.x's XML configuration, as documented (doc/xmlConfigFile.md and
 * doc/loggingAndErrorReporting.md of the WinSW repository): the children `<service>` accepts,
 * theirs, their attributes, and what their values may be.
 */
const DURATION = /^\d+ ?(ms|sec|secs|min|mins|hour|hours|day|days)$/;
const WINSW: Record<string, { children?: string[]; attrs?: string[]; value?: RegExp }> = {
  service: {
    children: [
      "id",
      "name",
      "description",
      "executable",
      "startmode",
      "delayedAutoStart",
      "depend",
      "logpath",
      "logmode",
      "log",
      "argument",
      "arguments",
      "startargument",
      "stopargument",
      "stopexecutable",
      "stoptimeout",
      "env",
      "interactive",
      "beeponshutdown",
      "download",
      "onfailure",
      "resetfailure",
      "securtityDescriptor",
      "serviceaccount",
      "workingdirectory",
      "priority",
      "stopparentprocessfirst",
    ],
  },
  id: { value: /^[A-Za-z0-9_-]+$/ },
  startmode: { value: /^(Boot|System|Automatic|Manual)$/ },
  delayedAutoStart: { value: /^(true|false|)$/ },
  stopparentprocessfirst: { value: /^(true|false)$/ },
  stoptimeout: { value: DURATION },
  resetfailure: { value: DURATION },
  onfailure: { attrs: ["action", "delay"] },
  log: {
    attrs: ["mode"],
    children: [
      "sizeThreshold",
      "keepFiles",
      "pattern",
      "autoRollAtTime",
      "zipOlderThanNumDays",
      "zipDateFormat",
    ],
  },
  sizeThreshold: { value: /^\d+$/ },
  keepFiles: { value: /^\d+$/ },
  serviceaccount: { children: ["domain", "user", "password", "allowservicelogon"] },
  allowservicelogon: { value: /^(true|false)$/ },
};

/** Every way `el` and what is below it breaks {@link WINSW}. */
function winswProblems(el: XmlElement, where = el.name): string[] {
  const rule = WINSW[el.name] ?? {};
  const out: string[] = [];
  for (const a of Object.keys(el.attrs)) {
    if (!rule.attrs?.includes(a)) out.push(`${where}: attribute ${a} is not WinSW's`);
  }
  if (rule.value && !rule.value.test(el.text)) out.push(`${where}: bad value "${el.text}"`);
  for (const child of el.children) {
    if (!rule.children?.includes(child.name)) out.push(`${where}: <${child.name}> is not WinSW's`);
    out.push(...winswProblems(child, `${where}/${child.name}`));
  }
  return out;
}

Deno.test("service windows: the WinSW definition uses only WinSW's documented elements, with valid values", () => {
  for (const account of ["NT AUTHORITY\\LocalService", "LocalSystem", "CORP\\svc$", ".\\jet"]) {
    const xml = winswXml({
      ...WINDOWS_DEFAULTS,
      account,
      config: FULL,
      configFile: "jetport.yaml",
    });
    const service = readXml(xml);
    assertEquals(service.name, "service");
    assertEquals(winswProblems(service), [], account);
    const names = service.children.map((c) => c.name);
    for (const required of ["id", "executable", "workingdirectory", "stoptimeout", "log"]) {
      assert(names.includes(required), `<${required}> present`);
    }
    // Restart on failure, log rotation by size, the grace plus margin as the stop timeout.
    const failures = service.children.filter((c) => c.name === "onfailure");
    assert(failures.length > 0 && failures.every((f) => f.attrs.action === "restart"));
    for (const f of failures) assertMatch(f.attrs.delay, DURATION);
    assertEquals(service.children.find((c) => c.name === "log")!.attrs.mode, "roll-by-size");
    const stop = service.children.find((c) => c.name === "stoptimeout")!.text;
    assertEquals(stop, `${stopTimeoutSeconds(FULL)} sec`);
    assert(stopTimeoutSeconds(FULL) > 20, "more than shutdown.grace (20s)");
    assertEquals(
      service.children.filter((c) => c.name === "argument").map((c) => c.text),
      ["run", "--config", "C:\\ProgramData\\jetport\\jetport.yaml"],
    );
  }
  // A name that would break the XML is escaped, not passed through.
  const odd = winswXml({ ...WINDOWS_DEFAULTS, config: FULL, configFile: "a&b<c>.yaml" });
  assertEquals(winswProblems(readXml(odd)), []);
});
