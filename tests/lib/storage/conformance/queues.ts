/**
 * Storage conformance cases for queues: settings, pause and concurrency
 * limits. Every store runs them through `storageConformance()`
 * (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import { JOB_STATES } from "../../../../lib/job.ts";
import { finishOf, LEASE, newJob, T0 } from "../_fixtures.ts";
import { assertCounts } from "./_assert.ts";
import { addJobIn } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";
import { awaitWake, liveWatch } from "./_watch.ts";

/** Registers the cases for queues. */
export function queuesConformance(test: ConformanceTest): void {
  // --- queueSet, queueList, and the claim's pause and limits ---

  test("queueList() shows queues known from jobs or from settings, with counts", async (store) => {
    assert.deepEqual(await store.queueList(), []);
    await addJobIn(store, "a-done", "completed", { overrides: { queue: "a" } });
    await addJobIn(store, "a-run", "processing", { overrides: { queue: "a" } });
    await store.jobInsertMany({
      jobs: [newJob("a-wait", { queue: "a" }), newJob("d-wait")],
      now: T0,
    });
    await store.queueSet({ name: "empty", paused: true });
    await store.queueSet({ name: "a", concurrency: 3 });
    const queues = await store.queueList();
    assert.deepEqual(queues.map((q) => q.name), ["a", "default", "empty"]);
    const [a, d, empty] = queues;
    assert.deepEqual(
      a,
      {
        name: "a",
        counts: {
          ...Object.fromEntries(JOB_STATES.map((s) => [s, 0])),
          pending: 1,
          processing: 1,
          completed: 1,
        },
        running: 1,
        paused: false,
        concurrency: 3,
        rate: null,
        group_concurrency: 0,
      },
    );
    assert.equal(d?.counts.pending, 1);
    assert.equal(d?.paused, false);
    assert.equal(d?.concurrency, 0);
    assert.equal(empty?.paused, true);
    assert.equal(empty?.running, 0);
    // A field left out keeps its value.
    await store.queueSet({ name: "a", paused: true });
    await store.queueSet({ name: "empty", concurrency: 2 });
    const again = await store.queueList();
    assert.deepEqual(
      again.map((q) => [q.name, q.paused, q.concurrency]),
      [["a", true, 3], ["default", false, 0], ["empty", true, 2]],
    );
  });

  test("jobClaim() takes nothing from a paused queue until it is resumed", async (store) => {
    await store.jobInsertMany({
      jobs: [
        newJob("p1", { queue: "held", priority: 9 }),
        newJob("p2", { queue: "held", priority: 9 }),
        newJob("o1", { queue: "other" }),
      ],
      now: T0,
    });
    await store.queueSet({ name: "held", paused: true });
    const first = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 10,
      now: T0,
      leaseMs: LEASE,
    });
    assert.deepEqual(first.map((j) => j.id), ["o1"], "only the other queue's job");
    const named = await store.jobClaim({
      workerId: "w1",
      queues: ["held"],
      limit: 10,
      now: T0,
      leaseMs: LEASE,
    });
    assert.deepEqual(named, [], "not even for a worker of that queue alone");
    await store.queueSet({ name: "held", paused: false });
    const after = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 10,
      now: T0,
      leaseMs: LEASE,
    });
    assert.deepEqual(after.map((j) => j.id).sort(), ["p1", "p2"]);
    await assertCounts(store, { processing: 3 });
  });

  test(
    "jobClaim() never runs more of a limited queue than its limit, across connections",
    async (store, db) => {
      await using other = await db.open();
      await store.queueSet({ name: "lim", concurrency: 2 });
      await store.jobInsertMany({
        jobs: [
          ...Array.from({ length: 5 }, (_, i) => newJob(`l${i}`, { queue: "lim", priority: 5 })),
          newJob("u1", { queue: "free" }),
          newJob("u2", { queue: "free" }),
        ],
        now: T0,
      });
      const first = await store.jobClaim({
        workerId: "w1",
        queues: null,
        limit: 10,
        now: T0,
        leaseMs: LEASE,
      });
      assert.deepEqual(
        first.map((j) => j.id),
        ["l0", "l1", "u1", "u2"],
        "two of the limited queue (by priority), every other job",
      );
      const none = await other.jobClaim({
        workerId: "w2",
        queues: ["lim"],
        limit: 10,
        now: T0,
        leaseMs: LEASE,
      });
      assert.deepEqual(none, [], "the limit holds for another connection");
      await store.runFinishMany({ finishes: [finishOf(first[0]!, "w1")] });
      const next = await other.jobClaim({
        workerId: "w2",
        queues: null,
        limit: 10,
        now: T0,
        leaseMs: LEASE,
      });
      assert.deepEqual(next.map((j) => j.id), ["l2"], "one ended, one more starts");
      // A raised limit applies to the next claim; 0 lifts it.
      await other.queueSet({ name: "lim", concurrency: 3 });
      const raised = await store.jobClaim({
        workerId: "w1",
        queues: null,
        limit: 10,
        now: T0,
        leaseMs: LEASE,
      });
      assert.deepEqual(raised.map((j) => j.id), ["l3"]);
      await other.queueSet({ name: "lim", concurrency: 0 });
      const lifted = await store.jobClaim({
        workerId: "w1",
        queues: null,
        limit: 10,
        now: T0,
        leaseMs: LEASE,
      });
      assert.deepEqual(lifted.map((j) => j.id), ["l4"]);
    },
  );

  test("jobClaim() from many connections at once keeps a queue's limit", async (store, db) => {
    const stores = [store, await db.open(), await db.open()];
    try {
      await store.queueSet({ name: "lim", concurrency: 3 });
      await store.jobInsertMany({
        jobs: Array.from({ length: 40 }, (_, i) => newJob(`j${i}`, { queue: "lim" })),
        now: T0,
      });
      const claimed = await Promise.all(
        stores.flatMap((s, i) =>
          [0, 1, 2].map((k) =>
            s.jobClaim({ workerId: `w${i}-${k}`, queues: null, limit: 4, now: T0, leaseMs: LEASE })
          )
        ),
      );
      assert.equal(claimed.flat().length, 3, "three in all, whoever got them");
      await assertCounts(store, { pending: 37, processing: 3 });
    } finally {
      await stores[1]!.close();
      await stores[2]!.close();
    }
  });

  test("queueSet() wakes watchers of other connections", async (store, db) => {
    await using other = await db.open();
    using watch = await liveWatch(store, other);
    const seen = watch.calls;
    await other.queueSet({ name: "q", paused: true });
    const paused = await awaitWake(watch, seen, "queueSet (pause) by another connection");
    await other.queueSet({ name: "q", paused: false });
    const resumed = await awaitWake(watch, paused, "queueSet (resume) by another connection");
    await other.queueSet({ name: "q", concurrency: 4 });
    await awaitWake(watch, resumed, "queueSet (limit) by another connection");
  });

  test("queueHealthList() shows delayed jobs, the oldest waiting due time and recent attempts", async (store) => {
    await addJobIn(store, "a-done", "completed", {
      overrides: { queue: "a" },
      finishedAt: T0 + 1000,
    });
    await addJobIn(store, "a-dead", "dead", { overrides: { queue: "a" }, finishedAt: T0 + 2000 });
    await addJobIn(store, "a-old", "completed", { overrides: { queue: "a" }, finishedAt: T0 + 10 });
    await store.jobInsertMany({ jobs: [newJob("a-wait", { queue: "a" })], now: T0 - 30_000 });
    await store.jobInsertMany({
      jobs: [
        newJob("a-wait2", { queue: "a" }),
        newJob("b-later", { queue: "b", run_at: T0 + 60_000 }),
      ],
      now: T0,
    });
    const health = await store.queueHealthList({ now: T0 + 5000, since: T0 + 500 });
    assert.deepEqual(health, [
      { name: "a", scheduled: 0, oldest_due_at: T0, completed: 1, failed: 1 },
      { name: "b", scheduled: 1, oldest_due_at: null, completed: 0, failed: 0 },
    ]);
    // Once due, the delayed job waits.
    const later = await store.queueHealthList({ now: T0 + 60_000, since: T0 + 60_000 });
    assert.deepEqual(later.find((q) => q.name === "b"), {
      name: "b",
      scheduled: 0,
      oldest_due_at: T0 + 60_000,
      completed: 0,
      failed: 0,
    });
  });
}
