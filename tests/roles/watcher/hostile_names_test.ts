/**
 * Names and trees a watch must survive: a file name with a newline, one that is not valid UTF-8,
 * a directory tree 10k levels deep, files that are gone before they could be `lstat`ed. None may
 * stop the watch; each is announced, or named in one clear warning when it cannot be.
 */
import { assert, assertEquals } from "../../helpers/assert.ts";
import { startNatsServer } from "../../helpers/nats_server.ts";
import {
  captureLogs,
  client,
  createFilesStream,
  eventsBeforeMarker,
  metricValue,
  startWatcher,
  tempDir,
} from "./helpers.ts";

/** Runs a shell script with `$1` = `dir` (for what Deno's string paths cannot express). */
async function sh(script: string, dir: string) {
  const out = await new Deno.Command("bash", { args: ["-c", script, "sh", dir] }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
}

Deno.test("watcher: a file name with a newline is announced with the name exactly", async () => {
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("newline");
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    watches: [{ name: "nl", path: root, settle: "100ms" }],
  });
  await Deno.writeTextFile(`${root}/two\nlines.txt`, "x");
  const events = await eventsBeforeMarker(nc, root);
  assertEquals(events.map((e) => [e.type, e.path, e.size]), [
    ["file.created", "two\nlines.txt", 1],
  ]);
  await watcher.stop();
  await nc.close();
});

Deno.test("watcher: a name that is not valid UTF-8 is named in one warning; the watch goes on", async () => {
  await using logs = await captureLogs();
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("utf8");
  // One before the start (found by the scan), one while running (found by its event).
  await sh(`printf 'a' > "$1/$(printf 'old\\xff.txt')"`, root);
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    watches: [{ name: "u8", path: root, settle: "100ms" }],
  });
  await sh(`printf 'b' > "$1/$(printf 'new\\xfe.txt')"`, root);
  await Deno.writeTextFile(`${root}/ok.txt`, "fine");
  const events = await eventsBeforeMarker(nc, root);
  // Deno reads such a name with U+FFFD in place of the bad bytes and cannot open that path:
  // there is no state to announce, so the operator is told which file to rename.
  assertEquals(events.map((e) => [e.type, e.path]), [["file.created", "ok.txt"]]);
  const warned = logs.lines.filter((l) => l.includes("not valid UTF-8"));
  assert(warned.some((l) => l.includes("old\uFFFD.txt")), logs.lines.join("\n"));
  assertEquals(warned.filter((l) => l.includes("old\uFFFD.txt")).length, 1, "warned once");
  assertEquals(
    metricValue(watcher.metrics, "watcher_loss_detections_total", {
      watch: "u8",
      reason: "listing",
    }),
    0,
    "a listing that shows such a name is not taken for lost events",
  );
  await watcher.stop();
  await nc.close();
});

Deno.test("watcher: a directory tree 10k levels deep does not stop the watch", async () => {
  await using logs = await captureLogs();
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("deep");
  // Made one relative step at a time: the whole path is far longer than PATH_MAX (4096), which
  // Deno's own calls (they resolve against the working directory) cannot reach.
  const make = await new Deno.Command("python3", {
    args: [
      "-c",
      "import os, sys\nos.chdir(sys.argv[1])\nfor _ in range(10000):\n  os.mkdir('d')\n" +
      "  os.chdir('d')\nopen('f.txt', 'w').write('x')\n",
      root,
    ],
  }).output();
  assertEquals(make.code, 0, new TextDecoder().decode(make.stderr));
  await Deno.writeTextFile(`${root}/top.txt`, "top");
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    watches: [{ name: "deep", path: root, settle: "100ms" }],
  });
  const events = await eventsBeforeMarker(nc, root);
  assertEquals(events.map((e) => e.path), ["top.txt"], "the reachable file; no directory events");
  // Where the path gets too long for the OS, one warning names the place; the watch goes on.
  const warned = logs.lines.filter((l) => l.includes("cannot read") && l.includes("too long"));
  assertEquals(warned.length, 1, logs.lines.join("").slice(0, 2000));
  await watcher.stop();
  await nc.close();
});

Deno.test("watcher: files gone before they could be lstat'ed are not announced", async () => {
  await using logs = await captureLogs();
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("gone");
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    watches: [{ name: "gone", path: root, settle: "200ms" }],
  });
  for (let i = 0; i < 200; i++) {
    await Deno.writeTextFile(`${root}/brief-${i}.txt`, "here and gone");
    await Deno.remove(`${root}/brief-${i}.txt`);
  }
  await Deno.mkdir(`${root}/dir`);
  await Deno.writeTextFile(`${root}/dir/x.txt`, "x");
  await Deno.remove(`${root}/dir`, { recursive: true });
  const events = await eventsBeforeMarker(nc, root);
  assertEquals(events.map((e) => [e.type, e.path]), []);
  assertEquals(logs.lines.filter((l) => l.includes("ERROR")), []);
  await watcher.stop();
  await nc.close();
});
