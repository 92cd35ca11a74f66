import { assertEquals, assertMatch, assertRejects } from "../../helpers/assert.ts";
import { uploadProcessorSchema } from "../../../src/roles/upload_processor/config.ts";
import { UploadFailure } from "../../../src/roles/upload_processor/failure.ts";
import {
  createHandler,
  type HandlerJob,
  handlerProbe,
} from "../../../src/roles/upload_processor/handler.ts";
import { uploadEvent } from "./producer.ts";

const handlerOf = (cfg: unknown) => createHandler(uploadProcessorSchema.shape.handler.parse(cfg));
const probeOf = (cfg: unknown) => handlerProbe(uploadProcessorSchema.shape.handler.parse(cfg));

async function job(): Promise<HandlerJob & { dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "jetport-handler-" });
  await Deno.writeTextFile(`${dir}/in.txt`, "payload bytes");
  return {
    dir,
    event: uploadEvent("o'brien; rm -rf /@example.com", "a b.txt", "bucket"),
    file: `${dir}/in.txt`,
    originalFilename: "a b.txt",
    deliveries: 1,
  };
}

const never = new AbortController().signal;

async function failure(p: Promise<unknown>): Promise<string> {
  const err = await assertRejects(() => p, UploadFailure);
  return `${err.kind} ${err.reason}: ${err.message}`;
}

Deno.test("exec: placeholders are whole arguments, no shell; event in env and on stdin", async () => {
  const j = await job();
  const out = `${j.dir}/out.json`;
  const script = `const [file, email, name, literal] = Deno.args;
const stdin = JSON.parse(await new Response(Deno.stdin.readable).text());
await Deno.writeTextFile(${JSON.stringify(out)}, JSON.stringify({ file, email, name, literal,
  env: Deno.env.get("JETPORT_EVENT_ID"), delivery: Deno.env.get("JETPORT_DELIVERIES"),
  secret: Deno.env.get("JETPORT_TEST_SECRET") ?? null, stdin: stdin.event_id }));
console.log(JSON.stringify({ output_path: "/srv/out/x" }));`;
  Deno.env.set("JETPORT_TEST_SECRET", "do-not-leak");
  const run = handlerOf({
    exec: [Deno.execPath(), "eval", script, "{file}", "{email}", "{original_filename}", "x{file}"],
  });
  const result = await run(j, never);
  Deno.env.delete("JETPORT_TEST_SECRET");
  assertEquals(result.outputPath, "/srv/out/x");
  const seen = JSON.parse(await Deno.readTextFile(out));
  assertEquals(seen, {
    file: j.file,
    email: j.event.email,
    name: "a b.txt",
    literal: "x{file}",
    env: j.event.event_id,
    delivery: "1",
    secret: null, // the daemon's own environment is not passed on
    stdin: j.event.event_id,
  });
});

Deno.test("exec: exit 75 is retryable, other codes permanent, a timeout kills and retries", async () => {
  const j = await job();
  assertMatch(
    await failure(handlerOf({ exec: ["sh", "-c", "exit 75"] })(j, never)),
    /^retry handler_failed: .*exited 75/,
  );
  assertMatch(
    await failure(handlerOf({ exec: ["sh", "-c", "echo boom >&2; exit 3"] })(j, never)),
    /^permanent handler_failed: sh exited 3; stderr: boom/,
  );
  assertMatch(
    await failure(handlerOf({ exec: ["sh", "-c", "exit 3"], retry_exit_codes: [3] })(j, never)),
    /^retry handler_failed/,
  );
  const t0 = Date.now();
  assertMatch(
    await failure(handlerOf({ exec: ["sleep", "30"], timeout: "200ms" })(j, never)),
    /^retry handler_timeout: sleep ran longer than 200 ms/,
  );
  assertEquals(Date.now() - t0 < 20_000, true, "killed, not waited for");
  assertMatch(
    await failure(handlerOf({ exec: ["/nonexistent/handler"] })(j, never)),
    /^retry handler_failed: cannot start/,
  );
});

Deno.test("http: 2xx ok (file sent as multipart), 429/5xx retry, 4xx permanent", async () => {
  const j = await job();
  let status = 200;
  let received: { event: unknown; file: string; name: string } | undefined;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const form = await req.formData();
      const file = form.get("file") as File;
      received = {
        event: JSON.parse(form.get("event") as string),
        file: await file.text(),
        name: file.name,
      };
      return new Response(status === 200 ? '{"output_path":"s3://out/x"}' : "nope", { status });
    },
  );
  const run = handlerOf({ http: { url: `http://127.0.0.1:${server.addr.port}/process` } });
  assertEquals(await run(j, never), { outputPath: "s3://out/x" });
  assertEquals(received, { event: j.event, file: "payload bytes", name: "a b.txt" });
  for (const [code, expected] of [[429, /^retry/], [503, /^retry/], [404, /^permanent/]] as const) {
    status = code;
    assertMatch(await failure(run(j, never)), expected);
  }
});

Deno.test("http: nobody listening is a retry that names the handler as down, and the file is not left open", async () => {
  const j = await job();
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const cfg = { http: { url: `http://127.0.0.1:${port}/` } };
  const err = await assertRejects(() => handlerOf(cfg)(j, never), UploadFailure);
  assertMatch(`${err.kind} ${err.reason}: ${err.message}`, /^retry handler_failed: POST .* failed/);
  assertEquals(err.outage, "handler");
  assertEquals(await probeOf(cfg)(), false, "the probe sees it down too");
});

Deno.test("http handler probe: down while refusing or answering 502/503/504, up on any other answer", async () => {
  let status = 503;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    return new Response(null, { status });
  });
  const probe = probeOf({ http: { url: `http://127.0.0.1:${server.addr.port}/hook` } });
  assertEquals(await probe(), false, "503");
  status = 405; // a handler that takes only POST is up
  assertEquals(await probe(), true, "405");
  assertEquals(await probeOf({ exec: ["true"] })(), true, "an exec handler is never down");
});
