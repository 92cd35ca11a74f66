/**
 * Whole-config checks of the declarations, run by `validate` (with line and column) before any
 * call to a server: duplicate names, overlapping subjects between streams (the server rejects the
 * second stream), and consumer filters outside their declared stream's subjects.
 * @module
 */
import type { CheckProblem, ConfigCheck } from "../../config/checks.ts";
import type { Config } from "../schemas.ts";
import { subjectsOverlap } from "./subjects.ts";

const ROOT = ["roles", "stream_provisioner"];

/** The stream_provisioner checks (none when the role is off). */
export const provisionerChecks: ConfigCheck<Config> = (config) => {
  const cfg = config.roles.stream_provisioner;
  if (!cfg || !cfg.enabled) return [];
  const problems: CheckProblem[] = [];
  duplicates(cfg.streams.map((s) => s.name), "streams", "name", "stream", problems);
  duplicates(cfg.kv.map((k) => k.bucket), "kv", "bucket", "bucket", problems);
  duplicates(
    cfg.object_stores.map((o) => o.bucket),
    "object_stores",
    "bucket",
    "object store",
    problems,
  );
  duplicates(
    cfg.consumers.map((c) => `${c.stream}/${c.name}`),
    "consumers",
    "name",
    "consumer",
    problems,
  );

  cfg.streams.forEach((s, i) => {
    s.subjects.forEach((subject, k) => {
      for (let j = 0; j < i; j++) {
        const other = cfg.streams[j];
        const hit = other.subjects.find((o) => subjectsOverlap(o, subject));
        if (hit === undefined) continue;
        problems.push({
          path: [...ROOT, "streams", i, "subjects", k],
          message: `subject "${subject}" of stream ${s.name} overlaps "${hit}" of stream ` +
            `${other.name} (streams[${j}]); NATS cannot store one subject in two streams. Give ` +
            `one of them subjects of its own (e.g. a DLQ on "dlq.${other.name.toLowerCase()}.>" ` +
            `rather than under the main stream's prefix)`,
        });
        break;
      }
    });
  });

  const streams = new Map(cfg.streams.map((s) => [s.name, s]));
  cfg.consumers.forEach((c, i) => {
    const stream = streams.get(c.stream);
    // An undeclared stream may exist on the server: plan checks that against the server.
    if (!stream) return;
    const list = c.filter_subjects ?? (c.filter_subject ? [c.filter_subject] : []);
    list.forEach((f, k) => {
      if (stream.subjects.some((s) => subjectsOverlap(s, f))) return;
      problems.push({
        path: [...ROOT, "consumers", i, c.filter_subjects ? "filter_subjects" : "filter_subject"]
          .concat(c.filter_subjects ? [k] : []),
        message: `filter subject "${f}" is outside the subjects of stream ${c.stream} ` +
          `(${stream.subjects.join(", ")}): the consumer would never receive a message`,
      });
    });
  });
  return problems;
};

/**
 * Advice that is not an error, printed by `validate`: an even replica count tolerates no more lost
 * servers than one fewer (a quorum of 2 needs both, of 4 needs 3) and costs a copy more; and a
 * consumer that feeds the dlq_redriver with max_deliver -1 never gives a message up, so nothing
 * of it ever reaches the DLQ.
 */
export function provisionerAdvice(config: Config): CheckProblem[] {
  const cfg = config.roles.stream_provisioner;
  if (!cfg || !cfg.enabled) return [];
  const advice: CheckProblem[] = [];
  const check = (list: string, i: number, what: string, n: number | undefined) => {
    if (!n || n % 2 === 1) return;
    advice.push({
      path: [...ROOT, list, i, "replicas"],
      message: `${what} has replicas ${n}: an even count survives no more server failures than ` +
        `${n - 1} (a quorum of ${n} needs ${Math.floor(n / 2) + 1}); use ${n - 1} or ${n + 1}`,
    });
  };
  cfg.streams.forEach((s, i) => check("streams", i, `stream ${s.name}`, s.replicas));
  cfg.kv.forEach((k, i) => check("kv", i, `bucket ${k.bucket}`, k.replicas));
  cfg.object_stores.forEach((o, i) =>
    check("object_stores", i, `object store ${o.bucket}`, o.replicas)
  );
  cfg.consumers.forEach((c, i) =>
    check("consumers", i, `consumer ${c.stream}/${c.name}`, c.replicas)
  );
  const dlq = config.roles.dlq_redriver;
  const sources = dlq?.enabled ? dlq.sources : [];
  cfg.consumers.forEach((c, i) => {
    const k = sources.findIndex((s) => s.stream === c.stream && s.consumer === c.name);
    if (k < 0 || c.max_deliver !== -1) return;
    advice.push({
      path: [...ROOT, "consumers", i, "max_deliver"],
      message: `consumer ${c.stream}/${c.name} feeds the DLQ (roles.dlq_redriver.sources[${k}]) ` +
        "but has max_deliver -1 (the default): the server redelivers a failing message forever " +
        "and never gives it up, so it never reaches the DLQ. Set max_deliver (e.g. 5), or " +
        "write -1 to keep retrying forever on purpose",
    });
  });
  return advice;
}

function duplicates(
  names: string[],
  list: string,
  key: string,
  what: string,
  problems: CheckProblem[],
) {
  names.forEach((name, i) => {
    const first = names.indexOf(name);
    if (first < i) {
      problems.push({
        path: [...ROOT, list, i, key],
        message: `${what} ${name} is declared twice (also ${list}[${first}])`,
      });
    }
  });
}
