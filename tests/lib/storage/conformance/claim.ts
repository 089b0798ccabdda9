/**
 * Storage conformance cases for the claim: which jobs a worker takes, and when
 * the next is due. Every store runs them through `storageConformance()`
 * (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import { isoTime } from "../../../../lib/job.ts";
import type { ClaimedJob } from "../../../../lib/storage/storage.ts";
import { failure, finishOf, LEASE, newJob, T0 } from "../_fixtures.ts";
import { assertCounts } from "./_assert.ts";
import { claimOne } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";

/** Registers the cases for the claim. */
export function claimConformance(test: ConformanceTest): void {
  // --- jobClaim, jobNextDueAt ---

  test("jobClaim() takes due jobs by priority, then due time", async (store) => {
    await store.jobInsertMany({
      jobs: [
        newJob("low-early", { priority: 0, run_at: T0 - 9000 }),
        newJob("high-late", { priority: 5, run_at: T0 - 1000 }),
        newJob("high-early", { priority: 5, run_at: T0 - 2000 }),
        newJob("negative", { priority: -1, run_at: T0 - 10_000 }),
        newJob("low-late", { priority: 0, run_at: T0 - 500 }),
      ],
      now: T0 - 20_000,
    });
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 10,
      now: T0,
      leaseMs: LEASE,
    });
    assert.deepEqual(claimed.map((j) => j.id), [
      "high-early",
      "high-late",
      "low-early",
      "low-late",
      "negative",
    ]);
  });

  test("jobClaim() takes the best jobs first when limited", async (store) => {
    await store.jobInsertMany({
      jobs: [
        newJob("a", { priority: 1 }),
        newJob("b", { priority: 3 }),
        newJob("c", { priority: 2 }),
      ],
      now: T0,
    });
    const first = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 2,
      now: T0,
      leaseMs: LEASE,
    });
    assert.deepEqual(first.map((j) => j.id), ["b", "c"]);
    const second = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 2,
      now: T0,
      leaseMs: LEASE,
    });
    assert.deepEqual(second.map((j) => j.id), ["a"]);
  });

  test("jobClaim() starts an attempt: processing, attempts + 1, the worker, a run", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("j1", { max_retries: 2 })], now: T0 - 100 });
    const [claimed] = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 1,
      now: T0,
      leaseMs: LEASE,
    });
    assert.ok(claimed);
    assert.equal(claimed.state, "processing");
    assert.equal(claimed.attempt, 1);
    assert.equal(claimed.attempts, 1);
    assert.equal(claimed.worker_id, "w1");
    assert.equal(claimed.max_retries, 2);
    assert.equal(claimed.command, "echo j1");
    const { attempt: _, ...job } = claimed;
    assert.deepEqual(await store.jobGet({ id: "j1" }), { ...job, updated_at: isoTime(T0) });
    const withRuns = await store.jobGetWithRuns({ id: "j1" });
    assert.deepEqual(withRuns?.runs, [{
      attempt: 1,
      started_at: isoTime(T0),
      finished_at: null,
      duration_ms: null,
      outcome: null,
      exit_code: null,
      signal: null,
      error: null,
      worker_id: "w1",
      hook: null,
    }]);
  });

  test("jobClaim() never hands out a job twice", async (store) => {
    await store.jobInsertMany({
      jobs: Array.from({ length: 7 }, (_, i) => newJob(`j${i}`)),
      now: T0,
    });
    const taken: string[] = [];
    for (let round = 0; round < 10; round++) {
      for (const worker of ["w1", "w2", "w3"]) {
        const claimed = await store.jobClaim({
          workerId: worker,
          queues: null,
          limit: 2,
          now: T0 + round,
          leaseMs: LEASE,
        });
        taken.push(...claimed.map((j) => j.id));
      }
    }
    assert.equal(taken.length, 7);
    assert.equal(new Set(taken).size, 7);
    await assertCounts(store, { processing: 7 });
  });

  test("jobClaim() skips jobs that are not yet due", async (store) => {
    await store.jobInsertMany({
      jobs: [newJob("later", { run_at: T0 + 60_000, priority: 10 }), newJob("now")],
      now: T0,
    });
    const claim = (now: number) =>
      store.jobClaim({ workerId: "w1", queues: null, limit: 5, now, leaseMs: LEASE });
    assert.deepEqual((await claim(T0)).map((j) => j.id), ["now"]);
    assert.deepEqual(await claim(T0 + 59_999), []);
    assert.deepEqual((await claim(T0 + 60_000)).map((j) => j.id), ["later"]);
  });

  test("jobClaim() takes a failed job again once its retry is due", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("flaky")], now: T0 });
    const first = await claimOne(store, "w1", "flaky");
    await store.runFinishMany({ finishes: [finishOf(first, "w1", failure(T0 + 3000))] });
    const claim = (now: number) =>
      store.jobClaim({ workerId: "w2", queues: null, limit: 5, now, leaseMs: LEASE });
    assert.deepEqual(await claim(T0 + 2999), []);
    const [second] = await claim(T0 + 3000);
    assert.equal(second?.id, "flaky");
    assert.equal(second?.attempt, 2);
    assert.equal(second?.worker_id, "w2");
  });

  test("jobClaim() serves only the queues asked for", async (store) => {
    await store.jobInsertMany({
      jobs: [
        newJob("a1", { queue: "a" }),
        newJob("b1", { queue: "b" }),
        newJob("c1", { queue: "c" }),
        newJob("d1"),
      ],
      now: T0,
    });
    const claim = (queues: string[] | null) =>
      store.jobClaim({ workerId: "w1", queues, limit: 10, now: T0, leaseMs: LEASE });
    assert.deepEqual((await claim(["b"])).map((j) => j.id), ["b1"]);
    assert.deepEqual((await claim(["a", "c"])).map((j) => j.id).sort(), ["a1", "c1"]);
    assert.deepEqual(await claim(["zzz"]), []);
    assert.deepEqual((await claim(null)).map((j) => j.id), ["d1"]);
  });

  test("jobNextDueAt() gives the earliest waiting job's due time, per queue", async (store) => {
    assert.equal(await store.jobNextDueAt({ queues: null }), null);
    await store.jobInsertMany({
      jobs: [
        newJob("a", { run_at: T0 + 5000, queue: "qa" }),
        newJob("b", { run_at: T0 + 2000, queue: "qb" }),
        newJob("c", { run_at: T0 - 100, queue: "qc", priority: 9 }),
      ],
      now: T0 - 1000,
    });
    assert.equal(await store.jobNextDueAt({ queues: null }), T0 - 100);
    assert.equal(await store.jobNextDueAt({ queues: ["qa"] }), T0 + 5000);
    assert.equal(await store.jobNextDueAt({ queues: ["qa", "qb"] }), T0 + 2000);
    assert.equal(await store.jobNextDueAt({ queues: ["none"] }), null);
    // A running job is not waiting; a failed one waits for its retry.
    const c = await claimOne(store, "w1", "c");
    assert.equal(await store.jobNextDueAt({ queues: ["qc"] }), null);
    await store.runFinishMany({ finishes: [finishOf(c, "w1", failure(T0 + 1000))] });
    assert.equal(await store.jobNextDueAt({ queues: null }), T0 + 1000);
  });

  // --- jobClaim on several connections ---

  test(
    "jobClaim() on three connections at once hands out every job exactly once",
    async (store, db) => {
      await using second = await db.open();
      await using third = await db.open();
      const connections = [store, second, third];
      const total = 300;
      await store.jobInsertMany({
        jobs: Array.from({ length: total }, (_, i) => newJob(`j${i}`, { priority: i % 4 })),
        now: T0,
      });
      const claims: { id: string; workerId: string; job: ClaimedJob }[] = [];
      const results = await Promise.allSettled(connections.map(async (connection, k) => {
        const workerId = `w-${k}`;
        // At most one round per job and one to find the queue empty.
        for (let round = 0; round <= total; round++) {
          const claimed = await connection.jobClaim({
            workerId,
            queues: null,
            limit: 1 + (round + k) % 5,
            now: T0,
            leaseMs: LEASE,
          });
          if (claimed.length === 0) return;
          claims.push(...claimed.map((job) => ({ id: job.id, workerId, job })));
        }
        throw new Error(`${workerId} never found the queue empty`);
      }));
      for (const result of results) if (result.status === "rejected") throw result.reason;

      const owner = new Map<string, string>();
      const twice = new Set<string>();
      for (const { id, workerId, job } of claims) {
        if (owner.has(id)) twice.add(id);
        owner.set(id, workerId);
        assert.deepEqual([job.worker_id, job.attempt, job.state], [workerId, 1, "processing"]);
      }
      assert.deepEqual([...twice], [], "jobs claimed twice");
      assert.equal(owner.size, total, "every job was claimed");
      assert.ok(new Set(owner.values()).size > 1, "the connections' claims interleaved");
      await assertCounts(third, { processing: total });
      for (const [id, workerId] of owner) {
        const job = await second.jobGetWithRuns({ id });
        assert.deepEqual(
          [job?.worker_id, job?.attempts, job?.runs.map((r) => [r.attempt, r.worker_id])],
          [workerId, 1, [[1, workerId]]],
          `job ${id} has exactly one run, by the worker that claimed it`,
        );
      }
    },
  );
}
