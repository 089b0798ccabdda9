/**
 * Storage conformance cases for job flow: unique keys. Every store runs them
 * through `storageConformance()` (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import { insertedJobs, isoTime } from "../../../../lib/job.ts";
import { failure, finishOf, LEASE, newJob, T0 } from "../_fixtures.ts";
import { assertCounts, assertRejects, conflict } from "./_assert.ts";
import { addJobIn, allIds, flowJob, stateOf, statesOf } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";

/** Registers the cases for unique keys. */
export function keysConformance(test: ConformanceTest): void {
  // --- job flow: unique keys ---

  test("jobInsertMany() keeps out a job whose key an active job holds, naming the holder", async (store) => {
    await store.jobInsertMany({
      jobs: [
        flowJob("pending", null, { key: "k-pending" }),
        flowJob("blocked", ["pending"], { key: "k-blocked" }),
        flowJob("running", null, { key: "k-running" }),
        flowJob("failing", null, { key: "k-failing" }),
      ],
      now: T0,
    });
    await store.jobClaim({
      workerId: "w1",
      queues: ["q-running"],
      limit: 1,
      now: T0,
      leaseMs: LEASE,
    });
    const [failing] = await store.jobClaim({
      workerId: "w1",
      queues: ["q-failing"],
      limit: 1,
      now: T0,
      leaseMs: LEASE,
    });
    await store.runFinishMany({ finishes: [finishOf(failing!, "w1", failure(T0 + 60_000))] });
    const holders = ["pending", "blocked", "running", "failing"];
    for (const onConflict of [undefined, "keep"] as const) {
      const round = onConflict ?? "default";
      const jobs = [
        newJob(`unkeyed-${round}`),
        ...holders.map((h) => newJob(`new-${h}-${round}`, { key: `k-${h}` })),
        newJob(`fresh-${round}`, { key: `k-fresh-${round}` }),
      ];
      const result = await store.jobInsertMany({ jobs, now: T0 + 100, onConflict });
      assert.deepEqual(result, {
        inserted: 2,
        kept: holders.map((h) => ({ id: `new-${h}-${round}`, key: `k-${h}`, existingId: h })),
        blocked: [],
        replaced: [],
      }, `onConflict ${round}`);
      for (const h of holders) assert.equal(await store.jobGet({ id: `new-${h}-${round}` }), null);
      assert.equal(await stateOf(store, `fresh-${round}`), "pending");
    }
    assert.deepEqual(await statesOf(store, holders), {
      pending: "pending",
      blocked: "blocked",
      running: "processing",
      failing: "failed",
    });
    await assertCounts(store, { pending: 5, blocked: 1, processing: 1, failed: 1 });
  });

  test("jobInsertMany() with keep applies keys between the lines of one batch", async (store) => {
    const jobs = [
      newJob("a", { key: "k" }),
      newJob("b", { key: "k" }),
      newJob("c", { key: "j" }),
      newJob("d", { key: "k" }),
      newJob("e"),
    ];
    const result = await store.jobInsertMany({ jobs, now: T0 });
    assert.deepEqual(result, {
      inserted: 3,
      kept: [{ id: "b", key: "k", existingId: "a" }, { id: "d", key: "k", existingId: "a" }],
      blocked: [],
      replaced: [],
    });
    const stored = await store.jobGetMany({ ids: jobs.map((j) => j.id) });
    assert.deepEqual(
      stored.sort((x, y) => x.id.localeCompare(y.id)),
      insertedJobs(jobs, T0, result),
      "insertedJobs() leaves out the kept jobs",
    );
    await assertCounts(store, { pending: 3 });
  });

  test("jobInsertMany() with fail refuses an active key with ConflictError and adds nothing", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("holder", { key: "k" })], now: T0 });
    await assertRejects(
      () =>
        store.jobInsertMany({
          jobs: [newJob("n1"), newJob("n2", { key: "k" })],
          now: T0,
          onConflict: "fail",
        }),
      conflict(/"n2": key "k" is held by job "holder" \(pending\)/),
    );
    await assertRejects(
      () =>
        store.jobInsertMany({
          jobs: [newJob("x", { key: "z" }), newJob("y", { key: "z" })],
          now: T0,
          onConflict: "fail",
        }),
      conflict(/"y": key "z" is held by job "x"/),
    );
    assert.deepEqual(await allIds(store), ["holder"]);
    await assertCounts(store, { pending: 1 });
  });

  test("jobInsertMany() with replace cancels a holder that has not started and adds the new job", async (store) => {
    await store.jobInsertMany({
      jobs: [
        flowJob("old", null, { key: "k" }),
        flowJob("child", ["old"]),
        flowJob("gate"),
        flowJob("waiting", ["gate"], { key: "w" }),
      ],
      now: T0,
    });
    const result = await store.jobInsertMany({
      jobs: [flowJob("new", null, { key: "k" }), flowJob("new-w", null, { key: "w" })],
      now: T0 + 100,
      onConflict: "replace",
    });
    assert.deepEqual(result, { inserted: 2, kept: [], blocked: [], replaced: ["old", "waiting"] });
    const old = await store.jobGet({ id: "old" });
    assert.deepEqual(
      [old?.state, old?.last_error, old?.next_run_at, old?.updated_at],
      ["cancelled", "replaced by new", null, isoTime(T0 + 100)],
    );
    const child = await store.jobGet({ id: "child" });
    assert.deepEqual(
      [child?.state, child?.last_error],
      ["cancelled", 'dependency "old" was cancelled'],
      "the replaced job's dependents are cancelled in turn",
    );
    const waiting = await store.jobGet({ id: "waiting" });
    assert.deepEqual([waiting?.state, waiting?.last_error], ["cancelled", "replaced by new-w"]);
    assert.deepEqual(await statesOf(store, ["new", "new-w"]), {
      new: "pending",
      "new-w": "pending",
    });
    await assertCounts(store, { pending: 3, cancelled: 3 });
  });

  test("jobInsertMany() with replace within one batch keeps the last line", async (store) => {
    const result = await store.jobInsertMany({
      jobs: [newJob("a", { key: "k" }), newJob("b", { key: "k" })],
      now: T0,
      onConflict: "replace",
    });
    assert.deepEqual(result, { inserted: 2, kept: [], blocked: [], replaced: ["a"] });
    const a = await store.jobGet({ id: "a" });
    assert.deepEqual([a?.state, a?.last_error], ["cancelled", "replaced by b"]);
    assert.equal(await stateOf(store, "b"), "pending");
    await assertCounts(store, { pending: 1, cancelled: 1 });
  });

  test("jobInsertMany() with replace of a processing holder is ConflictError and adds nothing", async (store) => {
    await addJobIn(store, "running", "processing", { overrides: { key: "k" } });
    await assertRejects(
      () =>
        store.jobInsertMany({
          jobs: [newJob("n1"), newJob("n2", { key: "k" })],
          now: T0,
          onConflict: "replace",
        }),
      conflict(/"n2": key "k" is held by job "running" \(processing\)/),
    );
    assert.deepEqual(await allIds(store), ["running"]);
    await assertCounts(store, { processing: 1 });
  });

  test("jobInsertMany() frees a key once its job is completed, dead or cancelled", async (store) => {
    const finals = ["completed", "dead", "cancelled"] as const;
    for (const state of finals) {
      await addJobIn(store, `old-${state}`, state, { overrides: { key: `k-${state}` } });
    }
    const result = await store.jobInsertMany({
      jobs: finals.map((state) => newJob(`new-${state}`, { key: `k-${state}` })),
      now: T0 + 2000,
      onConflict: "fail",
    });
    assert.deepEqual(result, { inserted: 3, kept: [], blocked: [], replaced: [] });
    await assertCounts(store, { pending: 3, completed: 1, dead: 1, cancelled: 1 });
  });

  test("jobInsertMany() from two connections at once adds one job per key", async (store, db) => {
    await using other = await db.open();
    const rounds = 20;
    for (let r = 0; r < rounds; r++) {
      const [one, two] = await Promise.all([
        store.jobInsertMany({ jobs: [newJob(`a${r}`, { key: `k${r}` })], now: T0 }),
        other.jobInsertMany({ jobs: [newJob(`b${r}`, { key: `k${r}` })], now: T0 }),
      ]);
      assert.equal(one.inserted + two.inserted, 1, `round ${r}: one job added`);
      const kept = [...one.kept, ...two.kept];
      assert.equal(kept.length, 1, `round ${r}: one job kept out`);
      const added = one.inserted === 1 ? `a${r}` : `b${r}`;
      assert.equal(kept[0]!.existingId, added, `round ${r}: the kept job names the holder`);
    }
    const jobs = (await store.jobList({ limit: 100 })).jobs;
    assert.equal(jobs.length, rounds);
    assert.equal(new Set(jobs.map((j) => j.key)).size, rounds, "one job per key");
    await assertCounts(store, { pending: rounds });
  });

  test(
    "jobInsertMany() from two connections with replace leaves one active job per key",
    async (store, db) => {
      await using other = await db.open();
      const rounds = 20;
      for (let r = 0; r < rounds; r++) {
        await Promise.all([
          store.jobInsertMany({
            jobs: [newJob(`a${r}`, { key: `k${r}` })],
            now: T0,
            onConflict: "replace",
          }),
          other.jobInsertMany({
            jobs: [newJob(`b${r}`, { key: `k${r}` })],
            now: T0,
            onConflict: "replace",
          }),
        ]);
      }
      const active = (await store.jobList({ state: "pending", limit: 100 })).jobs;
      assert.equal(new Set(active.map((j) => j.key)).size, rounds);
      assert.equal(active.length, rounds, "exactly one active job per key");
      await assertCounts(store, { pending: rounds, cancelled: rounds });
    },
  );

  test("jobRetry() refuses a job whose key another active job now holds; jobRetryAllDead() leaves it dead", async (store) => {
    await addJobIn(store, "old", "dead", { overrides: { key: "k" } });
    await store.jobInsertMany({ jobs: [newJob("new", { key: "k" })], now: T0 + 2000 });
    await assertRejects(
      () => store.jobRetry({ ids: ["old"], now: T0 + 3000 }),
      conflict(/"old": key "k" is held by job "new"/),
    );
    assert.equal(await store.jobRetryAllDead({ now: T0 + 3000 }), 0);
    assert.equal(await stateOf(store, "old"), "dead");

    // A replaced job cannot come back while its replacement holds the key.
    await store.jobInsertMany({
      jobs: [newJob("newer", { key: "k" })],
      now: T0 + 4000,
      onConflict: "replace",
    });
    await assertRejects(
      () => store.jobRetry({ ids: ["new"], now: T0 + 5000 }),
      conflict(/"new": key "k" is held by job "newer"/),
    );
    await store.jobCancel({ ids: ["newer"], now: T0 + 6000 });
    const [again] = await store.jobRetry({ ids: ["new"], now: T0 + 7000 });
    assert.equal(again?.state, "pending", "the key is free again");
    assert.equal(await store.jobRetryAllDead({ now: T0 + 8000 }), 0);
    await assertCounts(store, { dead: 1, pending: 1, cancelled: 1 });
  });

  test("jobRetryAllDead() retries only one of two dead jobs that share a key", async (store) => {
    await addJobIn(store, "first", "dead", { overrides: { key: "k" } });
    await addJobIn(store, "second", "dead", { overrides: { key: "k" } });
    assert.equal(await store.jobRetryAllDead({ now: T0 + 5000 }), 1);
    const states = Object.values(await statesOf(store, ["first", "second"])).sort();
    assert.deepEqual(states, ["dead", "pending"]);
  });
}
