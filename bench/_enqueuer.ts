/**
 * The other process of the pickup scenario: enqueues N jobs one at a time,
 * at random gaps, through the CLI's own `enqueueJson()` (the code path of
 * `queuectl enqueue '<json>'` without the process start-up), and prints a
 * JSON array with, per job, its id, the time before the call, and the time
 * the command printed the id (after its commit; epoch ms with fractions).
 *
 * Each job runs `exec date +%s%N`, so its output is the time its process started.
 *
 * Usage: deno run -A bench/_enqueuer.ts <db> <n> <min-gap-ms> <max-gap-ms> <seed>
 */
import { enqueueJson } from "../cli/enqueue.ts";
import type { CliContext } from "../cli/_context.ts";
import { PICKUP_COMMAND } from "./pickup.ts";

const [db, count, minGap, maxGap, seedArg] = Deno.args;
const n = Number(count);
const low = Number(minGap);
const high = Number(maxGap);

/** mulberry32: a small seeded PRNG, so every run has the same gaps. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const wall = () => performance.timeOrigin + performance.now();
const next = random(Number(seedArg ?? 1));
let printedAt = 0;
const ctx: CliContext = {
  db,
  color: false,
  out: () => printedAt = wall(),
  err: (text) => console.error(text),
};
const results: { id: string; before: number; commit: number }[] = [];
for (let i = 0; i < n; i++) {
  await new Promise((resolve) => setTimeout(resolve, low + next() * (high - low)));
  const id = `p-${String(i).padStart(4, "0")}`;
  const before = wall();
  await enqueueJson(ctx, JSON.stringify({ id, command: PICKUP_COMMAND }), { json: false });
  results.push({ id, before, commit: printedAt });
}
console.log(JSON.stringify(results));
