/**
 * The other process of the pickup scenario: enqueues N jobs one at a time,
 * at random gaps, through the CLI's own `enqueueJson()` (the code path of
 * `queuectl enqueue '<json>'` without the process start-up), and prints a
 * JSON array with, per job, its id, the time before the call, and the time
 * the command printed the id (after its commit; epoch ms with fractions).
 *
 * Each job runs `exec date +%s%N`, so its output is the time its process started.
 *
 * With `direct`, after each job has completed (and the worker is idle
 * again) it also spawns the same command itself and records that latency
 * (`direct`): the pickup's baseline, taken in the same minutes, at the same
 * gaps, on the same machine load.
 *
 * With `groups=N`, job i is in group `g-<i mod N>` (README "Flow control").
 *
 * Usage: deno run -A bench/_enqueuer.ts <db> <n> <min-gap-ms> <max-gap-ms> <seed> [direct] [groups=N]
 */
import { enqueueJson } from "../cli/enqueue.ts";
import type { CliContext } from "../cli/_context.ts";
import { openStorage } from "../lib/storage/open_storage.ts";
import { directSpawnLatency, PICKUP_COMMAND } from "./pickup.ts";

const [db, count, minGap, maxGap, seedArg, ...flags] = Deno.args;
const mode = flags.includes("direct") ? "direct" : undefined;
const groups = Number(flags.find((f) => f.startsWith("groups="))?.slice(7) ?? 0);
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
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
await using store = mode === "direct" ? await openStorage(db!) : null;

/** Waits (reading rarely, so as not to load the machine) until job `id` completed. */
async function completed(id: string): Promise<void> {
  await sleep(40);
  for (let tries = 0; (await store!.jobGet({ id }))?.state !== "completed"; tries++) {
    if (tries === 250) throw new Error(`job ${id} did not complete within 5 s`);
    await sleep(20);
  }
  await sleep(10); // the worker's own writes after the job's end
}

const results: { id: string; before: number; commit: number; direct?: number }[] = [];
for (let i = 0; i < n; i++) {
  await sleep(low + next() * (high - low));
  const id = `p-${String(i).padStart(4, "0")}`;
  const before = wall();
  const group = groups > 0 ? { group: `g-${i % groups}` } : {};
  await enqueueJson(ctx, JSON.stringify({ id, command: PICKUP_COMMAND, ...group }), {
    json: false,
  });
  results.push({ id, before, commit: printedAt });
  if (store) {
    await completed(id);
    results.at(-1)!.direct = await directSpawnLatency();
  }
}
console.log(JSON.stringify(results));
