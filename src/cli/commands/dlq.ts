/**
 * `jetport dlq list|show|redrive|purge`: look into the dead-letter stream, put entries back on
 * their original subjects, or delete them.
 * @module
 */
import { jetstream, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { Command } from "../command.ts";
import { EXIT } from "../command.ts";
import { intFlag, type ParsedArgs, stringFlag, UsageError } from "../args.ts";
import { CONFIG_HELP, configPath, loadConfigFlag } from "../config_flag.ts";
import { connectOnce } from "../../nats/connect_once.ts";
import { DLQ_HEADER_PREFIX, type DlqTarget, dlqTarget } from "../../nats/dlq.ts";
import { getOriginal } from "../../nats/msg_get.ts";
import { parseDuration } from "../../config/units.ts";
import { parseRate } from "../rate.ts";
import { storedMessageLine } from "../message_line.ts";
import { printJson, printJsonLine } from "../json.ts";
import { startProgress } from "../../platform/progress.ts";
import { onShutdownSignal } from "../../platform/signals.ts";
import {
  type DlqEntry,
  type EntryFilter,
  listEntries,
  parseSource,
  sourceLabel,
} from "../../roles/dlq_redriver/entries.ts";
import { redriveMany } from "../../roles/dlq_redriver/redrive.ts";
import type { DlqRedriverConfig } from "../../roles/dlq_redriver/config.ts";

const SUBCOMMANDS = ["list", "show", "redrive", "purge"] as const;

/** Parses `--since`: a duration back from now (`1h`, `7d`) or a date (`2024-05-01T10:00Z`). */
export function parseSince(text: string, now = Date.now()): Date {
  const ms = parseDuration(text);
  if (ms !== undefined) return new Date(now - ms);
  const t = Date.parse(text);
  if (Number.isNaN(t)) {
    throw new UsageError(`--since takes a duration (1h, 7d) or a date (2024-05-01T10:00Z)`);
  }
  return new Date(t);
}

/** The entry filter from the command line. */
function filterFromArgs(args: ParsedArgs): EntryFilter {
  const filter: EntryFilter = {};
  const source = stringFlag(args, "source");
  if (source !== undefined) {
    filter.source = parseSource(source);
    if (!filter.source) throw new UsageError(`--source takes STREAM/CONSUMER or STREAM`);
  }
  const since = stringFlag(args, "since");
  if (since !== undefined) filter.since = parseSince(since);
  filter.reason = stringFlag(args, "reason");
  const seqs = args.flags.seq as string[] | undefined;
  if (seqs) {
    filter.seqs = seqs.flatMap((s) => s.split(",")).map((s) => {
      if (!/^\d+$/.test(s.trim())) throw new UsageError(`--seq takes DLQ sequence numbers`);
      return Number(s);
    });
  }
  filter.limit = intFlag(args, "limit");
  return filter;
}

function hasSelection(args: ParsedArgs, filter: EntryFilter): boolean {
  return args.flags.all === true || filter.source !== undefined || filter.since !== undefined ||
    filter.reason !== undefined || filter.seqs !== undefined;
}

/** `list` as a table: one row per entry. */
function entryTable(entries: DlqEntry[]): string {
  const rows = [["DLQ SEQ", "SOURCE", "SUBJECT", "DELIVERIES", "REASON", "FAILED AT", "REDRIVES"]];
  for (const e of entries) {
    const p = e.provenance;
    rows.push([
      String(e.dlqSeq),
      p ? `${sourceLabel(p)}#${p.seq}` : "(not jetport's)",
      p?.subject || "-",
      String(p?.deliveries ?? "-"),
      truncate(p?.reason ?? "", 60),
      p?.failedAt ?? e.time.toISOString(),
      String(p?.redrives ?? "-"),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** The payload for people: pretty JSON, text, or a hex dump for binary data. */
export function renderPayload(data: Uint8Array): string {
  if (data.length === 0) return "(empty)";
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    return hexDump(data);
  }
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // deno-lint-ignore no-control-regex
    return /[\x00-\x08\x0e-\x1f]/.test(text) ? hexDump(data) : text;
  }
}

function hexDump(data: Uint8Array): string {
  const lines = [`(binary, ${data.length} bytes)`];
  for (let i = 0; i < data.length; i += 16) {
    const chunk = [...data.subarray(i, i + 16)];
    const hex = chunk.map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = chunk.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${i.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}

async function confirm(question: string): Promise<boolean> {
  Deno.stderr.writeSync(new TextEncoder().encode(`${question} [y/N] `));
  const buf = new Uint8Array(64);
  const n = await Deno.stdin.read(buf);
  return /^y(es)?$/i.test(new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim());
}

function entryJson(e: DlqEntry) {
  return { dlq_seq: e.dlqSeq, stored_at: e.time.toISOString(), ...e.provenance };
}

async function purge(
  jsm: JetStreamManager,
  target: DlqTarget,
  entries: DlqEntry[],
  everything: boolean,
): Promise<number> {
  if (everything) {
    const res = await jsm.streams.purge(target.stream, { filter: `${target.subjectPrefix}.>` });
    return res.purged;
  }
  let n = 0;
  for (const e of entries) {
    if (await jsm.streams.deleteMessage(target.stream, e.dlqSeq, false).catch(() => false)) n++;
  }
  return n;
}

/** The `dlq` command. */
export const dlqCommand: Command = {
  name: "dlq",
  summary: "list, show, redrive or purge dead letters",
  help: `Usage: jetport dlq list|show|redrive|purge --config FILE [filters] [flags]

  list      a table of entries: DLQ seq, source (stream/consumer#seq), subject, deliveries,
            reason, failed at, redrives (--json for machines)
  show      one entry (--seq N): headers, then the payload (pretty JSON when it is JSON)
  redrive   republish entries to their original subjects with their original headers and a
            fresh Nats-Msg-Id, then delete them from the DLQ; needs --all, --seq or a filter
  purge     delete entries; needs --all, --seq or a filter; asks first unless --yes

${CONFIG_HELP}
  --source S/C      only entries from stream S (and consumer C)
  --since AGE       only entries stored in the last AGE (1h, 7d) or since a date
  --reason TEXT     only entries whose reason contains TEXT
  --seq N           this DLQ sequence (repeat, or N,M,...)
  --limit N         at most N entries (oldest first)
  --all             every entry (redrive, purge)
  --rate N/s        redrive at most N per second (default: roles.dlq_redriver.redrive.rate)
  --dry-run         redrive: show what would be redriven, change nothing
  --yes             purge: do not ask
  --json            list: JSON instead of text; show: the message as one JSON line
                    (the shape replay writes and publish --file reads)

A redrive stopped by SIGINT/SIGTERM finishes the entry in progress and stops: nothing is lost
or sent twice; run it again for the rest. Provenance-only entries (the original was gone when
it was captured) have no payload and are left in place.

Exit codes: 0 done, 1 NATS unreachable, some entries failed, or interrupted; 2 bad usage.`,
  flags: {
    string: ["config", "source", "since", "reason", "limit", "rate"],
    multiple: ["seq"],
    boolean: ["all", "dry-run", "yes", "json"],
    positional: { name: "subcommand", choices: SUBCOMMANDS },
  },
  async run(args) {
    const sub = args._[0];
    if (!SUBCOMMANDS.includes(sub as typeof SUBCOMMANDS[number])) {
      throw new UsageError(`say what to do: ${SUBCOMMANDS.join(", ")}`);
    }
    const filter = filterFromArgs(args);
    const rateFlag = stringFlag(args, "rate");
    const rateArg = rateFlag === undefined ? undefined : parseRate(rateFlag);
    if (sub === "show" && filter.seqs?.length !== 1) {
      throw new UsageError("show takes one --seq N (see the DLQ SEQ column of dlq list)");
    }
    if ((sub === "redrive" || sub === "purge") && !hasSelection(args, filter)) {
      throw new UsageError(`${sub} needs --all, --seq N or a filter (--source, --since, --reason)`);
    }
    const config = await loadConfigFlag(args);
    const target = dlqTarget(config);
    if (!target) {
      throw new UsageError(`${configPath(args)} has no (enabled) roles.dlq_redriver section`);
    }
    const cfg = config.roles.dlq_redriver as DlqRedriverConfig;
    const nc = await connectOnce(config.nats);
    try {
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      const direct = (await jsm.streams.info(target.stream)).config.allow_direct === true;

      if (sub === "show") {
        const seq = filter.seqs![0];
        const m = await getOriginal(jsm, target.stream, seq, direct);
        if (!m) {
          console.error(`jetport dlq: no entry with DLQ seq ${seq} in ${target.stream}`);
          return EXIT.failure;
        }
        const hdrs = (m.headers?.keys() ?? []).flatMap((k) =>
          m.headers!.values(k).map((v) => [k, v] as const)
        );
        if (args.flags.json) {
          printJsonLine(storedMessageLine(target.stream, m));
          return EXIT.ok;
        }
        const width = Math.max(...hdrs.map(([k]) => k.length), 0);
        console.log(`DLQ seq ${seq} on ${m.subject}, stored ${m.time.toISOString()}\n`);
        const provenance = hdrs.filter(([k]) => k.startsWith(DLQ_HEADER_PREFIX));
        const original = hdrs.filter(([k]) => !k.startsWith(DLQ_HEADER_PREFIX));
        for (const [k, v] of [...provenance, ...original]) console.log(`${k.padEnd(width)}  ${v}`);
        console.log(`\n${renderPayload(m.data)}`);
        return EXIT.ok;
      }

      // Headers are enough to choose; a redrive reads each payload when it republishes it.
      const entries = await listEntries(js, jsm, target, filter, { headersOnly: true, direct });
      if (sub === "list") {
        if (args.flags.json) printJson({ entries: entries.map(entryJson) });
        else console.log(entries.length ? entryTable(entries) : "(no entries)");
        return EXIT.ok;
      }

      if (sub === "purge") {
        const everything = args.flags.all === true &&
          Object.values(filter).every((v) => v === undefined);
        const count = everything ? "every" : String(entries.length);
        if (!everything && entries.length === 0) {
          console.log("no entries match");
          return EXIT.ok;
        }
        if (args.flags.yes !== true) {
          if (!Deno.stdin.isTerminal()) {
            throw new UsageError("purge deletes entries for good: add --yes to confirm");
          }
          if (!await confirm(`delete ${count} entries from ${target.stream}?`)) {
            console.error("nothing deleted");
            return EXIT.ok;
          }
        }
        console.log(`purged ${await purge(jsm, target, entries, everything)} entries`);
        return EXIT.ok;
      }

      // redrive
      if (args.flags["dry-run"]) {
        console.log(entries.length ? entryTable(entries) : "(no entries)");
        console.log(`dry run: ${entries.length} entries would be redriven; nothing changed`);
        return EXIT.ok;
      }
      const abort = new AbortController();
      const removeListeners = onShutdownSignal(
        (signal) => {
          console.error(`\n${signal}: stopping after the entry in progress`);
          abort.abort();
        },
      );
      const progress = startProgress({ label: "redrive", total: entries.length, unit: "msgs" });
      const failures: string[] = [];
      const summary = await redriveMany(
        { publisher: js, jsm, target, direct },
        entries.map((e) => e.dlqSeq),
        {
          rate: rateArg ?? cfg.redrive.rate,
          signal: abort.signal,
          onEntry(_seq, _outcome, error) {
            progress.tick();
            if (error) failures.push(error.message);
          },
        },
      ).finally(() => {
        progress.done();
        removeListeners();
      });
      for (const f of failures) console.error(`jetport dlq: ${f}`);
      const o = summary.outcomes;
      const parts = [`redriven ${o.redriven} of ${summary.total}`];
      if (o.missing) parts.push(`${o.missing} provenance-only left in place (no payload)`);
      if (o.gone) parts.push(`${o.gone} already gone`);
      if (o.foreign) parts.push(`${o.foreign} without provenance left alone`);
      if (o.failed) parts.push(`${o.failed} failed (still in the DLQ)`);
      if (summary.interrupted) parts.push("interrupted: run it again for the rest");
      console.log(parts.join("; "));
      return o.failed || summary.interrupted ? EXIT.failure : EXIT.ok;
    } finally {
      await nc.close();
    }
  },
};
