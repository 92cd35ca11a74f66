import { XMLParser, XMLValidator } from "fast-xml-parser";
import { parse } from "yaml";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "../helpers/assert.ts";
import { configSchema } from "../../src/roles/schemas.ts";
import {
  parseAccount,
  WINDOWS_DEFAULTS,
  windowsInstallLines,
  type WindowsOptions,
  winswXml,
} from "../../src/platform/service/windows.ts";

/**
 * What WinSW 2.x reads from its XML file, as given by the "WinSW v2 XML configuration reference"
 * and "Logging and error reporting" pages of the WinSW project and by its ServiceDescriptor
 * class, which reads the file. WinSW ignores elements it does not know, so a misspelt one would
 * silently drop a setting: hence an allow-list rather than a spot check.
 */
const WINSW_CHILDREN: Record<string, string[]> = {
  service: [
    "id",
    "name",
    "description",
    "executable",
    "hidewindow",
    "argument",
    "arguments",
    "startargument",
    "stopargument",
    "stopexecutable",
    "workingdirectory",
    "logpath",
    "logmode",
    "log",
    "logname",
    "outfiledisabled",
    "errfiledisabled",
    "outfilepattern",
    "errfilepattern",
    "depend",
    "startmode",
    "delayedAutoStart",
    "beeponshutdown",
    "waithint",
    "sleeptime",
    "interactive",
    "env",
    "download",
    "onfailure",
    "resetfailure",
    "serviceaccount",
    "stoptimeout",
    "stopparentprocessfirst",
    "priority",
    "extensions",
  ],
  log: [
    "sizeThreshold",
    "keepFiles",
    "pattern",
    "period",
    "autoRollAtTime",
    "zipOlderThanNumDays",
    "zipDateFormat",
  ],
  serviceaccount: ["domain", "user", "password", "allowservicelogon"],
};

/** Attributes per element (from the same reference); other elements take none. */
const WINSW_ATTRIBUTES: Record<string, string[]> = {
  log: ["mode"],
  onfailure: ["action", "delay"],
  env: ["name", "value"],
  download: [
    "from",
    "to",
    "auth",
    "user",
    "password",
    "unsecureAuth",
    "failOnError",
    "proxyServer",
  ],
};

/** Elements that may appear more than once. */
const WINSW_REPEATABLE = new Set([
  "argument",
  "startargument",
  "stopargument",
  "depend",
  "env",
  "download",
  "onfailure",
]);

/** WinSW's duration syntax: a whole number with an optional unit suffix. */
const WINSW_DURATION = /^\d+\s*(ms|secs?|mins?|hrs?|hours?|days?)?$/;
const WINSW_VALUES: Record<string, RegExp> = {
  stoptimeout: WINSW_DURATION,
  resetfailure: WINSW_DURATION,
  waithint: WINSW_DURATION,
  sleeptime: WINSW_DURATION,
  "onfailure@delay": WINSW_DURATION,
  "onfailure@action": /^(restart|reboot|none)$/,
  "log@mode": /^(append|reset|none|roll|roll-by-time|roll-by-size|roll-by-size-time|rotate)$/,
  startmode: /^(Boot|System|Automatic|Manual)$/i,
  stopparentprocessfirst: /^(true|false)$/i,
  allowservicelogon: /^(true|false)$/i,
  sizeThreshold: /^\d+$/,
  keepFiles: /^\d+$/,
};

/** An element of the parsed definition. */
interface Element {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: Element[];
}

type OrderedNode = Record<string, unknown> & { ":@"?: Record<string, string> };

/** Parses `xml` (which must be well-formed) into its one root element, comments dropped. */
function parseXml(xml: string): Element {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`not well-formed: ${JSON.stringify(valid.err)}`);
  // The validator lets "--" inside a comment pass; XML forbids it (a path in a comment could do
  // it).
  for (const [, body] of xml.matchAll(/<!--([^]*?)-->/g)) {
    if (body.includes("--") || body.endsWith("-")) {
      throw new Error(`not well-formed: <!--${body}-->`);
    }
  }
  const nodes = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: "",
    parseTagValue: false,
    parseAttributeValue: false,
    commentPropName: "#comment",
  }).parse(xml) as OrderedNode[];
  const convert = (node: OrderedNode): Element | undefined => {
    const name = Object.keys(node).find((k) => k !== ":@");
    if (!name || name.startsWith("#")) return undefined;
    const inner = node[name] as OrderedNode[];
    return {
      name,
      attrs: node[":@"] ?? {},
      text: inner.filter((n) => "#text" in n).map((n) => String(n["#text"])).join(""),
      children: inner.map(convert).filter((e): e is Element => e !== undefined),
    };
  };
  const roots = nodes.map(convert).filter((e): e is Element => e !== undefined);
  if (roots.length !== 1) throw new Error(`${roots.length} root elements`);
  return roots[0];
}

/** Everything in `root` that WinSW 2.x would not read as written; empty when all is well. */
function winswProblems(root: Element): string[] {
  const problems: string[] = [];
  if (root.name !== "service") problems.push(`root <${root.name}>, expected <service>`);
  const visit = (el: Element) => {
    for (const [attr, value] of Object.entries(el.attrs)) {
      if (!(WINSW_ATTRIBUTES[el.name] ?? []).includes(attr)) {
        problems.push(`<${el.name}> has no attribute ${attr}`);
      }
      const rule = WINSW_VALUES[`${el.name}@${attr}`];
      if (rule && !rule.test(value)) problems.push(`<${el.name} ${attr}="${value}">`);
    }
    const allowed = WINSW_CHILDREN[el.name];
    if (!allowed && el.children.length) problems.push(`<${el.name}> takes no child elements`);
    const seen = new Set<string>();
    for (const child of el.children) {
      if (allowed && !allowed.includes(child.name)) {
        problems.push(`<${child.name}> is not read inside <${el.name}>`);
      }
      if (seen.has(child.name) && !WINSW_REPEATABLE.has(child.name)) {
        problems.push(`<${child.name}> repeated`);
      }
      seen.add(child.name);
      const rule = WINSW_VALUES[child.name];
      if (rule && !rule.test(child.text.trim())) {
        problems.push(`<${child.name}>${child.text}</${child.name}>`);
      }
      visit(child);
    }
  };
  visit(root);
  for (const required of ["id", "name", "description", "executable"]) {
    if (!root.children.some((c) => c.name === required)) problems.push(`no <${required}>`);
  }
  return problems;
}

/** WinSW's reading of a duration, in ms. */
function winswDuration(text: string): number {
  const m = /^(\d+)\s*(ms|secs?|mins?|hrs?|hours?|days?)?$/.exec(text.trim());
  if (!m) throw new Error(`not a WinSW duration: ${text}`);
  const unit = (m[2] ?? "ms").replace(/s$/, "").replace(/^m$/, "ms");
  const scale: Record<string, number> = {
    ms: 1,
    sec: 1000,
    min: 60_000,
    hr: 3_600_000,
    hour: 3_600_000,
    day: 86_400_000,
  };
  return Number(m[1]) * scale[unit];
}

/** The text of each `name` child of `el`. */
function texts(el: Element, name: string): string[] {
  return el.children.filter((c) => c.name === name).map((c) => c.text);
}

/**
 * A config with every path-bearing key, on Windows paths with spaces and XML-special characters.
 */
function config(extra = "") {
  return configSchema.parse(parse(`
log: { file: 'D:\\jet port\\logs\\jetport.log' }
state_dir: state
shutdown: { grace: 20s }
roles:
  monitor:
    output: { path: 'E:\\monitor & <out>\\storage_monitor.log' }
  upload_processor:
    s3: { endpoint: "http://127.0.0.1:9000" }
    download_dir: '\\\\files\\uploads\\it''s--here'
    handler: { exec: ["C:\\\\tools\\\\handle.exe"] }
  watcher:
    ${extra}
    watches:
      - { name: storage, path: 'C:\\Users\\Ops\\My Storage' }
      - { name: inbox, path: state\\inbox }
`));
}

/** Options with every string an XML or a command line could mangle. */
function options(overrides: Partial<WindowsOptions> = {}): WindowsOptions {
  return {
    config: config(),
    configFile: 'C:\\Program Files\\jet & port\\<conf>\'s--"x".yaml',
    bin: "C:\\Program Files\\jet & port\\jetport.exe",
    workdir: "D:\\jet port\\data--1",
    id: "jetport",
    account: WINDOWS_DEFAULTS.account,
    ...overrides,
  };
}

Deno.test("winsw check: rejects misspelt elements, bad values and XML that is not well-formed", () => {
  const ok = "<service><id>a</id><name>a</name><description>a</description>" +
    "<executable>a</executable>";
  assertEquals(winswProblems(parseXml(`${ok}</service>`)), []);
  assertEquals(winswProblems(parseXml(`${ok}<stoptimout>5 sec</stoptimout></service>`)), [
    "<stoptimout> is not read inside <service>",
  ]);
  assertEquals(
    winswProblems(parseXml(`${ok}<onfailure action="restart" delay="10 seconds"/></service>`)),
    ['<onfailure delay="10 seconds">'],
  );
  assertEquals(winswProblems(parseXml(`${ok}<log mode="roll-by-sise"/></service>`)), [
    '<log mode="roll-by-sise">',
  ]);
  assertEquals(winswProblems(parseXml(`${ok}<id>b</id></service>`)), ["<id> repeated"]);
  assertStringIncludes(
    assertThrows(() => parseXml(`${ok}<argument>a & b</argument></service>`), Error).message,
    "well-formed",
  );
  assertStringIncludes(
    assertThrows(() => parseXml(`${ok}<!-- a -- b --></service>`), Error).message,
    "well-formed",
  );
});

Deno.test("service windows: the WinSW XML is well-formed and uses only what WinSW 2.x reads", () => {
  for (
    const account of [
      "NT AUTHORITY\\LocalService",
      "NT AUTHORITY\\NetworkService",
      "LocalSystem",
      "CORP\\jetport-svc$",
      ".\\jetport",
    ]
  ) {
    const root = parseXml(winswXml(options({ account })));
    assertEquals(winswProblems(root), [], account);
  }
});

Deno.test("service windows: paths with spaces, backslashes, &, <, ' and -- come back unchanged", () => {
  const opts = options();
  const root = parseXml(winswXml(opts));
  assertEquals(texts(root, "executable"), [opts.bin]);
  // One <argument> each: WinSW quotes an argument with spaces itself.
  assertEquals(texts(root, "argument"), ["run", "--config", opts.configFile]);
  assertEquals(texts(root, "arguments"), [], "no single command line to mis-quote");
  assertEquals(texts(root, "workingdirectory"), [opts.workdir]);
  assertEquals(texts(root, "logpath"), [`${opts.workdir}\\logs`]);
  // A relative config file lives in the working directory.
  const relative = parseXml(winswXml(options({ configFile: "conf\\jetport.yaml" })));
  assertEquals(texts(relative, "argument")[2], "D:\\jet port\\data--1\\conf\\jetport.yaml");
});

Deno.test("service windows: stoptimeout covers shutdown.grace, with the drain margin", () => {
  for (const grace of ["1500ms", "20s", "30s", "10m"]) {
    const opts = options();
    opts.config = {
      ...opts.config,
      shutdown: configSchema.parse({ shutdown: { grace } }).shutdown,
    };
    const root = parseXml(winswXml(opts));
    const [timeout] = texts(root, "stoptimeout");
    const ms = winswDuration(timeout);
    assert(ms >= opts.config.shutdown.grace + 15_000, `${timeout} for grace ${grace}`);
    assert(ms < opts.config.shutdown.grace + 16_000, `${timeout} for grace ${grace}`);
  }
  assertEquals(texts(parseXml(winswXml(options())), "stoptimeout"), ["35 sec"]);
});

Deno.test("service windows: restarts on failure, rolls its logs, stops jetport before children", () => {
  const root = parseXml(winswXml(options()));
  const failures = root.children.filter((c) => c.name === "onfailure").map((c) => c.attrs);
  assertEquals(failures, [
    { action: "restart", delay: "10 sec" },
    { action: "restart", delay: "60 sec" },
  ]);
  assertEquals(winswDuration(texts(root, "resetfailure")[0]), 3_600_000);
  const log = root.children.find((c) => c.name === "log")!;
  assertEquals(log.attrs, { mode: "roll-by-size" });
  assertEquals(texts(log, "sizeThreshold"), ["10240"]); // KiB
  assertEquals(texts(log, "keepFiles"), ["8"]);
  assertEquals(texts(root, "stopparentprocessfirst"), ["true"]);
  assertEquals(texts(root, "startmode"), ["Automatic"]);
});

Deno.test("service windows: the account - built-in, managed, user, LocalSystem", () => {
  const account = (name: string) => {
    const opts = options({ account: name });
    const el = parseXml(winswXml(opts)).children.find((c) => c.name === "serviceaccount");
    const fields = el && Object.fromEntries(el.children.map((c) => [c.name, c.text]));
    return { fields, lines: windowsInstallLines(opts) };
  };
  const local = account("NT AUTHORITY\\LocalService");
  assertEquals(local.fields, { domain: "NT AUTHORITY", user: "LocalService" });
  assertStringIncludes(
    local.lines,
    "& 'C:\\Program Files\\jet & port\\jetport-service.exe' install\n",
  );
  assertEquals(account("NT AUTHORITY\\NetworkService").fields, {
    domain: "NT AUTHORITY",
    user: "NetworkService",
  });
  // A group managed service account has no password; it needs "Log on as a service".
  const gmsa = account("CORP\\jetport-svc$");
  assertEquals(gmsa.fields, { domain: "CORP", user: "jetport-svc$", allowservicelogon: "true" });
  assertStringIncludes(gmsa.lines, "/grant 'CORP\\jetport-svc$:(OI)(CI)M'");
  assert(!gmsa.lines.includes("install /p"));
  // A user account: WinSW asks for the password at install; nothing secret is in the XML.
  const user = account(".\\jetport");
  assertEquals(user.fields, { domain: ".", user: "jetport", allowservicelogon: "true" });
  assertStringIncludes(user.lines, "install /p");
  assertStringIncludes(user.lines, "/grant 'jetport:(OI)(CI)M'");
  // LocalSystem is WinSW's default: no element, and icacls names it SYSTEM.
  const system = account("LocalSystem");
  assertEquals(system.fields, undefined);
  assertStringIncludes(system.lines, "/grant 'SYSTEM:(OI)(CI)M'");
  assertStringIncludes(
    assertThrows(() => parseAccount("CORP\\a:b"), Error).message,
    "not a Windows account name",
  );
  assertStringIncludes(
    assertThrows(() => parseAccount("CORP\\"), Error).message,
    "not a Windows account name",
  );
});

Deno.test("service windows: the account may write state_dir, logs, output and watched folders", () => {
  const lines = windowsInstallLines(options());
  const grants = lines.split("\n").filter((l) => l.startsWith("icacls.exe"));
  const principal = "NT AUTHORITY\\LocalService";
  assertEquals(grants, [
    `icacls.exe 'D:\\jet port\\data--1' /grant '${principal}:(OI)(CI)M'   # working directory, WinSW logs`,
    `icacls.exe 'D:\\jet port\\data--1\\state' /grant '${principal}:(OI)(CI)M'   # state_dir`,
    `icacls.exe 'D:\\jet port\\logs' /grant '${principal}:(OI)(CI)M'   # log.file`,
    `icacls.exe 'E:\\monitor & <out>' /grant '${principal}:(OI)(CI)M'   # roles.monitor.output.path`,
    `icacls.exe '\\\\files\\uploads\\it''s--here' /grant '${principal}:(OI)(CI)M'   # roles.upload_processor.download_dir`,
    `icacls.exe 'C:\\Users\\Ops\\My Storage' /grant '${principal}:(OI)(CI)M'   # roles.watcher.watches[0].path (watched; the cookie file is written here)`,
  ]);
  assertStringIncludes(lines, "New-Item -ItemType Directory -Force 'D:\\jet port\\data--1\\state'");
  // Without the cookie check the watched folders are only read.
  const readOnly = windowsInstallLines(options({ config: config("cookie_interval: 0") }));
  assertStringIncludes(
    readOnly,
    `icacls.exe 'C:\\Users\\Ops\\My Storage' /grant '${principal}:(OI)(CI)RX'   # roles.watcher.watches[0].path (watched)`,
  );
  assertStringIncludes(readOnly, `'D:\\jet port\\data--1\\state' /grant '${principal}:(OI)(CI)M'`);
});

Deno.test("service windows: a folder inside another is granted once, whatever its case", () => {
  const config = configSchema.parse(parse(`
state_dir: 'C:\\Data\\jetport'
roles:
  watcher:
    watches:
      - { name: inbox, path: 'c:/DATA/jetport/inbox' }
      - { name: other, path: 'C:\\Data\\jetport-other' }
`));
  const grants = windowsInstallLines(options({ config })).split("\n")
    .filter((l) => l.startsWith("icacls.exe")).map((l) => l.split(" /grant")[0]);
  assertEquals(grants, [
    "icacls.exe 'D:\\jet port\\data--1'",
    "icacls.exe 'C:\\Data\\jetport'",
    "icacls.exe 'C:\\Data\\jetport-other'",
  ]);
});
