/**
 * The pruner and the retention rules: cutoffs from the settings, one pass at
 * a time across hosts (the store's "pruner" turn), batches, and a stop that
 * ends a pass at its next batch.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/config.ts";
import { tryParseJobInput } from "../../lib/job_input.ts";
import { pruneInBatches, retentionCutoffs } from "../../lib/retention.ts";
import { SqliteStorage } from "../../lib/storage/sqlite/store.ts";
import { Pruner } from "../../workers/pruner.ts";
import { waitFor, withTempDb } from "../_helpers.ts";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 0);
const DAY = 86_400_000;

/** Inserts `n` jobs and completes them at `finishedAt` through the store's own methods. */
async function completed(store: SqliteStorage, prefix: string, n: number, finishedAt: number) {
  const jobs = Array.from(
    { length: n },
    (_, i) => tryParseJobInput({ id: `${prefix}${i}`, command: "true" }, T0)!,
  );
  await store.jobInsertMany({ jobs, now: T0 });
  const claimed = await store.jobClaim({
    workerId: "w",
    queues: null,
    limit: n,
    now: T0,
    leaseMs: 30_000,
  });
  await store.runFinishMany({
    finishes: claimed.map((job) => ({
      id: job.id,
      workerId: "w",
      attempt: job.attempt,
      outcome: "succeeded" as const,
      exitCode: 0,
      signal: null,
      error: null,
      finishedAt,
      stdout: null,
      stderr: null,
      state: "completed" as const,
      nextRunAt: null,
      uncountAttempt: false,
    })),
  });
}

Deno.test("retentionCutoffs() turns the settings into cutoffs; 0 keeps forever", () => {
  const config = { ...defaultConfig(), keep_completed: 60, keep_cancelled: 0, keep_dead: 1.5 };
  assert.deepEqual(retentionCutoffs(config, T0), {
    completed: T0 - 60_000,
    cancelled: null,
    dead: T0 - 1500,
  });
  assert.deepEqual(retentionCutoffs(defaultConfig(), T0), {
    completed: T0 - 7 * DAY,
    cancelled: T0 - 7 * DAY,
    dead: null,
  });
});

Deno.test("pruneInBatches() deletes in batches of the given size until none is left", async () => {
  await using tmp = await withTempDb();
  await using store = SqliteStorage.open(tmp.db);
  await completed(store, "c", 25, T0);
  let batches = 0;
  const counts = await pruneInBatches(store, { completed: T0 + 1 }, {
    batch: 10,
    between: () => Promise.resolve(++batches > 0),
  });
  assert.deepEqual(counts, { completed: 25, cancelled: 0, dead: 0 });
  assert.equal(batches, 2, "two full batches, then a short last one");
  assert.equal((await store.jobCountByState()).completed, 0);
});

Deno.test("one pruner pass at a time across hosts: the turn's holder prunes", async () => {
  await using tmp = await withTempDb();
  await using store = SqliteStorage.open(tmp.db);
  await completed(store, "old", 3, T0 - 8 * DAY);
  await completed(store, "new", 2, T0 - DAY);
  const config = defaultConfig();
  const a = new Pruner({ store, selfId: "w-a" });
  const b = new Pruner({ store, selfId: "w-b" });
  assert.deepEqual(await a.runOnce(T0, config), { completed: 3, cancelled: 0, dead: 0 });
  assert.equal(await b.runOnce(T0 + 1000, config), null, "a holds the turn");
  assert.deepEqual(await a.runOnce(T0 + 60_000, config), { completed: 0, cancelled: 0, dead: 0 });
  // a stops taking it: after its time b takes over.
  assert.notEqual(await b.runOnce(T0 + 60_000 + 3 * 60_000, config), null);
  assert.equal((await store.jobCountByState()).completed, 2, "the newer jobs stay");
});

Deno.test("a started pruner runs a pass soon, and stop() ends it", async () => {
  await using tmp = await withTempDb();
  await using store = SqliteStorage.open(tmp.db);
  await completed(store, "old", 1200, Date.now() - 8 * DAY);
  const errors: string[] = [];
  const pruned: number[] = [];
  const pruner = new Pruner({
    store,
    selfId: "w-a",
    onPruned: (counts) => pruned.push(counts.completed),
    onError: (message) => errors.push(message),
  });
  pruner.start();
  await waitFor(() => pruned.length > 0, { timeoutMs: 10_000, message: "a first pass" });
  await pruner.stop();
  assert.deepEqual(pruned, [1200], "the whole backlog, in batches, in one pass");
  assert.deepEqual(errors, []);
  assert.equal((await store.jobCountByState()).completed, 0);
});
