/**
 * The slot pool: `--count N` slots run over a few Web Workers, each running
 * several jobs at once. Black-box: 64 jobs run at once in one process.
 */
import assert from "node:assert/strict";
import { poolSize, SlotPool, SLOTS_PER_WEB_WORKER } from "../../workers/slot_pool.ts";
import { storeTest } from "../_helpers.ts";
import { enqueueMany, startWorker, waitForCount } from "./_worker_process.ts";

Deno.test("poolSize() starts one Web Worker per SLOTS_PER_WEB_WORKER slots, at least one", () => {
  assert.equal(SLOTS_PER_WEB_WORKER, 8);
  assert.equal(poolSize(1), 1);
  assert.equal(poolSize(4), 1);
  assert.equal(poolSize(8), 1);
  assert.equal(poolSize(9), 2);
  assert.equal(poolSize(16), 2);
  assert.equal(poolSize(64), 8);
  assert.equal(poolSize(256), 32);
});

Deno.test("the slot pool spreads a claim over its Web Workers, fewest jobs first", () => {
  const pool = new SlotPool({
    count: 6,
    size: 3,
    onStarted() {},
    onOutput() {},
    onFinished() {},
    onError() {},
  });
  try {
    assert.deepEqual(pool.slots.map((s) => s.webWorker), [0, 1, 2, 0, 1, 2]);
    // Slots 1 and 4 (Web Worker 0) busy, and slot 2 (Web Worker 1).
    for (const index of [1, 4, 2]) pool.slots[index - 1]!.job = { id: `j${index}` } as never;
    assert.equal(pool.running, 3);
    // Web Worker 2 has none: it gets the next; then a tie, the lower Web Worker first.
    assert.deepEqual(pool.free().map((s) => s.index), [3, 5, 6]);
    assert.equal(pool.find("j4")?.index, 4);
  } finally {
    pool.terminate();
  }
});

// Each job sleeps much longer than 1 s, so all 64 must run at once: on this shared 2-core
// VM under load, 64 process starts took 1.8-3.3 s even from a bare Deno loop
// (no queue at all), so with `sleep 1` the last would start after the first
// ended however the pool behaved.
const SLEEP_S = 6;

storeTest("a worker with --count 64 runs 64 jobs at once", async (tmp) => {
  const count = 64;
  const stamps = `${tmp.dir}/stamps`;
  await Deno.mkdir(stamps);
  await enqueueMany(
    tmp.db,
    Array.from({ length: count }, (_, i) => ({
      id: `s${i}`,
      command: `date +%s%N > ${stamps}/$QUEUECTL_JOB_ID.start; sleep ${SLEEP_S}; ` +
        `date +%s%N > ${stamps}/$QUEUECTL_JOB_ID.end`,
    })),
  );
  await using worker = await startWorker(tmp.db, ["--count", String(count)]);
  await waitForCount(tmp.db, "completed", count, { timeoutMs: 60_000, workers: [worker] });
  assert.equal((await worker.stop()).code, 0, worker.log());

  const read = async (id: string, what: string) =>
    BigInt((await Deno.readTextFile(`${stamps}/${id}.${what}`)).trim());
  const ids = Array.from({ length: count }, (_, i) => `s${i}`);
  const starts = await Promise.all(ids.map((id) => read(id, "start")));
  const ends = await Promise.all(ids.map((id) => read(id, "end")));
  const lastStart = starts.reduce((a, b) => (a > b ? a : b));
  const firstEnd = ends.reduce((a, b) => (a < b ? a : b));
  assert.ok(
    lastStart < firstEnd,
    `a job started ${Number(lastStart - firstEnd) / 1e6} ms after the first had finished`,
  );
  // 64 slots, one line each, named worker-1 .. worker-64.
  const slots = new Set(
    [...worker.stdout().matchAll(/^worker-(\d+) {2}job s\d+ {2}started/gm)].map((m) => m[1]),
  );
  assert.equal(slots.size, count, worker.stdout());
});
