/**
 * Shared set-up for the dlq_redriver tests: a role run in-process, a "foreign" failing consumer
 * written with plain nats.js (as another team's service would be), and DLQ readers.
 * @module
 */
import { connect } from "@nats-io/transport-node";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import {
  AckPolicy,
  jetstream,
  type JetStreamManager,
  type JsMsg,
  type StoredMsg,
} from "@nats-io/jetstream";
import { configSchema } from "../../../src/roles/schemas.ts";
import { type InProcessRole, runRoleInProcess } from "../../helpers/role.ts";
import { ROLE_FACTORIES } from "../../../src/roles/registry.ts";

/** A role running in this process, with its metrics. */
export type RunningRole = InProcessRole;

/** Starts the dlq_redriver in-process with `section` as its config. */
export function startRedriver(url: string, section: unknown): Promise<RunningRole> {
  const config = configSchema.parse({ nats: { servers: url }, roles: { dlq_redriver: section } });
  return runRoleInProcess(config, "dlq_redriver", ROLE_FACTORIES.dlq_redriver);
}

/** Connects a plain client. */
export function client(url: string): Promise<NatsConnection> {
  return connect({ servers: url });
}

/** The payload and headers test message `i` is published with. */
export function testMessage(i: number): { data: Uint8Array; headers: ReturnType<typeof headers> } {
  const h = headers();
  h.set("X-Id", String(i));
  h.append("X-Multi", `a${i}`);
  h.append("X-Multi", "b");
  const data = new TextEncoder().encode(JSON.stringify({ i, note: "ü€" }));
  // Binary tail: byte-for-byte means binary too.
  const out = new Uint8Array(data.length + 3);
  out.set(data);
  out.set([0, 255, i % 256], data.length);
  return { data: out, headers: h };
}

/**
 * A pull consumer loop with nats.js only: `decide` says ack, nak or term for each message.
 * Returns a stop function.
 */
export async function runConsumer(
  nc: NatsConnection,
  stream: string,
  consumer: string,
  decide: (msg: JsMsg) => "ack" | "nak" | "term",
): Promise<() => Promise<void>> {
  const js = jetstream(nc);
  const c = await js.consumers.get(stream, consumer);
  const iter = await c.consume({ max_messages: 100, expires: 2000 });
  const loop = (async () => {
    for await (const m of iter) {
      const d = decide(m);
      if (d === "ack") m.ack();
      else if (d === "nak") m.nak();
      else m.term();
    }
  })();
  return async () => {
    await iter.close();
    await loop;
  };
}

/** Creates a pull consumer the way another team's service would. */
export async function addFailingConsumer(
  jsm: JetStreamManager,
  stream: string,
  name: string,
  maxDeliver: number,
) {
  await jsm.consumers.add(stream, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    max_deliver: maxDeliver,
    ack_wait: 2_000_000_000,
  });
}

/** Every message of `stream`, read by sequence. */
export async function allMessages(jsm: JetStreamManager, stream: string): Promise<StoredMsg[]> {
  const info = await jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m) out.push(m);
  }
  return out;
}
