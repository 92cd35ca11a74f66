import { assertEquals } from "../helpers/assert.ts";
import { reloadSignal, shutdownSignals, signalExitCode } from "../../src/platform/signals.ts";

Deno.test("shutdown signals: SIGINT+SIGTERM on Unix, SIGINT+SIGBREAK on Windows", () => {
  assertEquals(shutdownSignals("linux"), ["SIGINT", "SIGTERM"]);
  assertEquals(shutdownSignals("darwin"), ["SIGINT", "SIGTERM"]);
  assertEquals(shutdownSignals("windows"), ["SIGINT", "SIGBREAK"]);
});

Deno.test("reload signal: SIGHUP except on Windows", () => {
  assertEquals(reloadSignal("linux"), "SIGHUP");
  assertEquals(reloadSignal("windows"), undefined);
});

Deno.test({
  name: "a second stop signal exits with 128 + its number: 130 for SIGINT, 143 for SIGTERM",
  ignore: Deno.build.os === "windows",
  async fn() {
    const module = new URL("../../src/platform/signals.ts", import.meta.url).href;
    // The first signal only reports: like a daemon that is still draining when the second comes.
    const script = `import { onShutdownSignal } from "${module}";
onShutdownSignal(() => console.log("first"));
console.log("ready");
setInterval(() => {}, 1000);`;
    for (const [signal, expected] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      assertEquals(signalExitCode(signal), expected);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", script],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      const until = async (word: string) => {
        while (!seen.includes(word)) {
          const { value, done } = await lines.read();
          if (done) throw new Error(`child ended before "${word}": ${seen}`);
          seen += value;
        }
      };
      await until("ready");
      child.kill(signal);
      await until("first");
      child.kill(signal);
      await lines.cancel();
      assertEquals((await child.status).code, expected, signal);
    }
  },
});
