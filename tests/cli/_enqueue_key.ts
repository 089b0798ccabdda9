/**
 * A test helper process: `enqueue` of `count` jobs sharing one key, one
 * after another, through the CLI's own function (as `queuectl enqueue
 * --key K -- true` would, without a process start each), from the moment
 * `startAt` (epoch ms) so two such processes overlap. Prints each id the
 * enqueue printed.
 *
 * Usage: deno run -A _enqueue_key.ts <db> <id-prefix> <count> <key> <startAt>
 */
import type { CliContext } from "../../cli/_context.ts";
import { enqueueCommand } from "../../cli/enqueue.ts";

const [db, prefix, count, key, startAt] = Deno.args;
const printed: string[] = [];
const ctx: CliContext = {
  db,
  color: false,
  out: (text) => printed.push(text),
  err: () => {},
};
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
for (let i = 0; i < Number(count); i++) {
  await enqueueCommand(ctx, ["true"], { id: `${prefix}-${i}`, key }, { json: false });
}
console.log(printed.join("\n"));
