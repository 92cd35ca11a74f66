/**
 * jetport: one daemon around NATS JetStream. This file only hands the arguments to the CLI.
 * @module
 */
import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
