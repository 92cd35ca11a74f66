import { parse as parseYaml } from "yaml";
import { assert, assertEquals } from "../helpers/assert.ts";
import { freePort, startNatsServer } from "../helpers/nats_server.ts";
import { startDaemon } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { waitReady } from "../helpers/readyz.ts";
import { NO_PROMTOOL, promtool, promtoolPath } from "./promtool.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const ALERTS = `${ROOT}deploy/prometheus/alerts.yml`;
const DASHBOARD = `${ROOT}deploy/grafana/jetport.json`;
const HAVE_PROMTOOL = promtoolPath() !== undefined;
if (!HAVE_PROMTOOL) {
  console.warn(`tests/http/deploy_test.ts: promtool parts skipped: ${NO_PROMTOOL}`);
}

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

/** Every PromQL expression of the dashboard, with Grafana's variables filled in. */
async function dashboardExprs(): Promise<{ title: string; expr: string }[]> {
  const dash = JSON.parse(await Deno.readTextFile(DASHBOARD)) as { panels: Panel[] };
  return dash.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      title: p.title,
      expr: t.expr.replaceAll("$instance", ".*").replaceAll("$__rate_interval", "1m"),
    }))
  );
}

/** Every alert expression. */
async function alertExprs(): Promise<{ title: string; expr: string }[]> {
  const doc = parseYaml(await Deno.readTextFile(ALERTS)) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return doc.groups.flatMap((g) => g.rules.map((r) => ({ title: r.alert, expr: r.expr })));
}

/** Metric families named in `expr` (histogram series names reduced to their family). */
function metricNames(expr: string): string[] {
  const names = expr.match(/\b(?:jetport|process)_[a-z0-9_]+\b/g) ?? [];
  return names.map((n) => n.replace(/_(bucket|sum|count)$/, ""));
}

Deno.test({
  name: "deploy: alert rules and Prometheus config pass promtool check, and the rules' unit tests",
  ignore: !HAVE_PROMTOOL,
  async fn() {
    const check = await promtool(["check", "rules", ALERTS]);
    assertEquals(check.code, 0, check.output);
    const test = await promtool(["test", "rules", `${ROOT}deploy/prometheus/alerts_test.yml`]);
    assertEquals(test.code, 0, test.output);
    // The compose Prometheus config, with the rule file it loads.
    const config = await promtool(["check", "config", `${ROOT}deploy/prometheus/prometheus.yml`]);
    assertEquals(config.code, 0, config.output);
  },
});

Deno.test({
  name: "deploy: every dashboard query is valid PromQL",
  ignore: !HAVE_PROMTOOL,
  async fn() {
    const exprs = await dashboardExprs();
    assert(exprs.length > 20, "the dashboard has its queries");
    // promtool parses PromQL only in rule files: each query becomes a recording rule.
    const rules = {
      groups: [{
        name: "dashboard",
        rules: exprs.map((e, i) => ({ record: `dashboard:query:${i}`, expr: e.expr })),
      }],
    };
    const file = `${await Deno.makeTempDir()}/dashboard-rules.json`;
    await Deno.writeTextFile(file, JSON.stringify(rules));
    const check = await promtool(["check", "rules", file]);
    assertEquals(check.code, 0, check.output);
  },
});

Deno.test("deploy: every metric the dashboard and alerts use is in a live daemon's /metrics", async () => {
  await using nats = await startNatsServer();
  const dir = await Deno.makeTempDir({ prefix: "jetport-deploy-" });
  await Deno.mkdir(`${dir}/watch`);
  const httpPort = freePort();
  // Every role, so every role's metrics are registered.
  const file = await writeConfig(`
nats: { servers: "${nats.url}" }
http: { listen: "127.0.0.1:${httpPort}" }
state_dir: ${dir}/state
shutdown: { grace: 5s }
roles:
  stream_provisioner:
    streams:
      - { name: FILES, subjects: [file.events] }
      - { name: FILE_UPLOADS, subjects: [file.uploads] }
    consumers:
      - { stream: FILES, name: file-monitor, filter_subject: file.events, max_deliver: 5 }
      - { stream: FILE_UPLOADS, name: file_processor, filter_subject: file.uploads }
  watcher:
    watches:
      - { name: storage, path: ${dir}/watch, stream: FILES, subject: file.events }
  monitor:
    stream: FILES
    consumer: file-monitor
    output: { path: ${dir}/monitor/monitor.log }
  upload_processor:
    stream: FILE_UPLOADS
    consumer: file_processor
    s3: { endpoint: "http://127.0.0.1:1", region: us-east-1, access_key_id: AKIA0, secret_access_key: s3cr3t }
    download_dir: ${dir}/downloads
    decrypt: { master_key_env: JETPORT_TEST_MASTER_KEY }
    handler: { exec: ["true"] }
  dlq_redriver:
    sources: [{ stream: FILES, consumer: file-monitor }]
`);
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
  await using daemon = startDaemon(file, { JETPORT_TEST_MASTER_KEY: key });
  await waitReady(httpPort, 30_000, "/readyz 200 with every role");
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  const missing: string[] = [];
  for (const { title, expr } of [...await dashboardExprs(), ...await alertExprs()]) {
    for (const name of metricNames(expr)) {
      if (!families.has(name)) missing.push(`${name} (${title})`);
    }
  }
  assertEquals(missing, [], `used but not exported:\n${text}`);
  // Series of a known label set are there at 0 before their first event (increase() sees it).
  for (const role of ["watcher", "monitor", "upload_processor", "dlq_redriver"]) {
    assert(
      text.includes(`jetport_role_restarts_total{role="${role}"} 0\n`),
      `${role} restarts at 0`,
    );
  }
  for (const name of ["process_resident_memory_bytes", "process_start_time_seconds"]) {
    assert(new RegExp(`^${name} \\d`, "m").test(text), `${name} has a sample`);
  }
  if (HAVE_PROMTOOL) {
    const check = await promtool(["check", "metrics"], text);
    assertEquals(check.code, 0, `${check.output}\n${text}`);
  }
  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
});
