/**
 * Storage conformance cases for workers: the registry, heartbeats, requests,
 * the rescuer's turn and stranded jobs. Every store runs them through
 * `storageConformance()` (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import { isoTime } from "../../../../lib/job.ts";
import { finishOf, LEASE, newJob, T0 } from "../_fixtures.ts";
import { assertCounts } from "./_assert.ts";
import { addJobIn, claimOne } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";

/** Registers the cases for workers. */
export function workersConformance(test: ConformanceTest): void {
  // --- workers ---

  test("workerHeartbeat() renews the leases of the worker's jobs", async (store) => {
    await store.workerRegister({ id: "w1", pid: 1, host: "h", count: 2, queues: null, now: T0 });
    await store.jobInsertMany({ jobs: [newJob("mine")], now: T0 });
    await claimOne(store, "w1", "mine");
    await store.jobInsertMany({ jobs: [newJob("theirs")], now: T0 });
    await claimOne(store, "w2", "theirs");
    const reply = await store.workerHeartbeat({ id: "w1", now: T0 + 20_000, leaseMs: LEASE });
    assert.deepEqual(reply, {
      stopRequested: null,
      cancelRequested: [],
      held: [{ id: "mine", attempt: 1 }],
      registered: true,
    });
    const at = (now: number) =>
      store.jobListStranded({ now, workerIds: [] }).then((jobs) => jobs.map((j) => j.id).sort());
    assert.deepEqual(await at(T0 + LEASE + 1000), ["theirs"], "only the renewed lease holds");
    assert.deepEqual(await at(T0 + 20_000 + LEASE + 1000), ["mine", "theirs"]);
  });

  test("workerHeartbeat() returns a stop request made for the worker", async (store) => {
    await store.workerRegister({ id: "w1", pid: 1, host: "h", count: 1, queues: null, now: T0 });
    assert.equal(await store.workerRequestStop({ mode: "graceful" }), 1);
    let reply = await store.workerHeartbeat({ id: "w1", now: T0 + 1, leaseMs: LEASE });
    assert.equal(reply.stopRequested, "graceful");
    await store.workerRequestStop({ ids: ["w1"], mode: "force" });
    reply = await store.workerHeartbeat({ id: "w1", now: T0 + 2, leaseMs: LEASE });
    assert.equal(reply.stopRequested, "force");
  });

  test("workerRequestsGet() reads cancel and stop requests without renewing a lease", async (store) => {
    await store.workerRegister({ id: "w1", pid: 1, host: "h", count: 2, queues: null, now: T0 });
    await store.jobInsertMany({ jobs: [newJob("mine"), newJob("other")], now: T0 });
    await claimOne(store, "w1", "mine");
    await claimOne(store, "w1", "other");
    assert.deepEqual(await store.workerRequestsGet({ id: "w1" }), {
      stopRequested: null,
      cancelRequested: [],
    });
    await store.jobCancel({ ids: ["mine"], now: T0 + 1 });
    await store.workerRequestStop({ ids: ["w1"], mode: "graceful" });
    assert.deepEqual(await store.workerRequestsGet({ id: "w1" }), {
      stopRequested: "graceful",
      cancelRequested: ["mine"],
    });
    const stranded = await store.jobListStranded({ now: T0 + LEASE + 1000, workerIds: [] });
    assert.deepEqual(stranded.map((j) => j.id).sort(), ["mine", "other"], "no lease renewed");
  });

  test("workerRequestStop() asks only the workers named, and says how many", async (store) => {
    for (const id of ["w1", "w2", "w3"]) {
      await store.workerRegister({ id, pid: 1, host: "h", count: 1, queues: null, now: T0 });
    }
    assert.equal(await store.workerRequestStop({ ids: ["w2", "nope"], mode: "force" }), 1);
    const stops = async () =>
      Object.fromEntries((await store.workerListAll()).map((w) => [w.id, w.stop_requested]));
    assert.deepEqual(await stops(), { w1: null, w2: "force", w3: null });
    assert.equal(await store.workerRequestStop({ mode: "graceful" }), 3);
    assert.deepEqual(await stops(), { w1: "graceful", w2: "graceful", w3: "graceful" });
  });

  test("workerRequestStop() with no workers asks nobody", async (store) => {
    assert.equal(await store.workerRequestStop({ mode: "graceful" }), 0);
  });

  test("workerList() shows live workers with their jobs and leaves out stale ones", async (store) => {
    await store.workerRegister({
      id: "w-old",
      pid: 10,
      host: "h1",
      count: 1,
      queues: null,
      now: T0,
    });
    await store.workerRegister({
      id: "w-new",
      pid: 20,
      host: "h2",
      count: 4,
      queues: ["a", "b"],
      now: T0 + 1000,
    });
    await store.jobInsertMany({
      jobs: [newJob("j2", { queue: "a" }), newJob("j1", { queue: "b" })],
      now: T0,
    });
    await store.jobClaim({
      workerId: "w-new",
      queues: ["a", "b"],
      limit: 4,
      now: T0 + 1000,
      leaseMs: LEASE,
    });
    await store.workerHeartbeat({ id: "w-new", now: T0 + 60_000, leaseMs: LEASE });

    const live = (await store.workerList({ staleBefore: T0 + 30_000 }))
      .map((w) => ({ ...w, current_jobs: [...w.current_jobs].sort() }));
    assert.deepEqual(live, [{
      id: "w-new",
      pid: 20,
      host: "h2",
      started_at: isoTime(T0 + 1000),
      heartbeat_at: isoTime(T0 + 60_000),
      count: 4,
      queues: ["a", "b"],
      current_jobs: ["j1", "j2"],
      stop_requested: null,
      role: "worker",
      clock_offset_ms: 0,
      late: false,
      proc_start: null,
      pid_space: null,
    }]);
    assert.deepEqual(
      (await store.workerList({ staleBefore: T0 })).map((w) => w.id),
      ["w-old", "w-new"],
      "oldest started first",
    );
    const all = await store.workerListAll();
    assert.deepEqual(all.map((w) => w.id), ["w-old", "w-new"]);
    assert.deepEqual(all[0]?.current_jobs, []);
    assert.equal(all[0]?.queues, null);
  });

  test("workerRegister() records what hosts the workers, 'worker' unless said", async (store) => {
    await store.workerRegister({ id: "w1", pid: 1, host: "h", count: 1, queues: null, now: T0 });
    await store.workerRegister({
      id: "d1",
      pid: 2,
      host: "h",
      count: 2,
      queues: null,
      now: T0 + 1,
      role: "dashboard",
    });
    assert.deepEqual(
      (await store.workerListAll()).map((w) => [w.id, w.role]),
      [["w1", "worker"], ["d1", "dashboard"]],
    );
  });

  test("workerRegister() records the process's start time and pid space, null unless given", async (store) => {
    await store.workerRegister({
      id: "w1",
      pid: 1,
      host: "h",
      count: 1,
      queues: null,
      now: T0,
      procStart: "123456",
      pidSpace: "3f2a9c1e:4026531836",
    });
    await store.workerRegister({ id: "w2", pid: 2, host: "h", count: 1, queues: null, now: T0 });
    await store.workerHeartbeat({ id: "w1", now: T0 + 1000, leaseMs: LEASE });
    assert.deepEqual(
      (await store.workerListAll()).map((w) => [w.id, w.proc_start, w.pid_space]),
      [["w1", "123456", "3f2a9c1e:4026531836"], ["w2", null, null]],
    );
    // Registering again under the same id replaces them.
    await store.workerRegister({ id: "w1", pid: 3, host: "h", count: 1, queues: null, now: T0 });
    const [w1] = await store.workerList({ staleBefore: T0 });
    assert.deepEqual([w1?.pid, w1?.proc_start, w1?.pid_space], [3, null, null]);
  });

  test("workerRegister() and workerHeartbeat() record the host's clock offset", async (store) => {
    await store.workerRegister({
      id: "w1",
      pid: 1,
      host: "h",
      count: 1,
      queues: null,
      now: T0,
      clockOffsetMs: -42,
    });
    await store.workerRegister({ id: "w2", pid: 2, host: "h", count: 1, queues: null, now: T0 });
    assert.deepEqual(
      (await store.workerListAll()).map((w) => [w.id, w.clock_offset_ms]),
      [["w1", -42], ["w2", 0]],
    );
    await store.workerHeartbeat({ id: "w1", now: T0 + 1000, leaseMs: LEASE, clockOffsetMs: 7 });
    const [w1] = await store.workerList({ staleBefore: T0 });
    assert.equal(w1?.clock_offset_ms, 7);
  });

  test("workerList() marks workers whose heartbeat is older than lateBefore", async (store) => {
    await store.workerRegister({ id: "old", pid: 1, host: "h", count: 1, queues: null, now: T0 });
    await store.workerRegister({
      id: "new",
      pid: 2,
      host: "h",
      count: 1,
      queues: null,
      now: T0 + 5000,
    });
    const listed = await store.workerList({ staleBefore: T0 - 1, lateBefore: T0 + 1000 });
    assert.deepEqual(listed.map((w) => [w.id, w.late]), [["old", true], ["new", false]]);
    const unmarked = await store.workerList({ staleBefore: T0 - 1 });
    assert.deepEqual(unmarked.map((w) => w.late), [false, false], "never late without lateBefore");
  });

  // --- turnTake: the rescuer's turn, and other named turns ---

  test(
    "turnTake() gives the turn to one holder until its time runs out",
    async (store, db) => {
      await using other = await db.open();
      assert.equal(await store.turnTake({ holder: "a", now: T0, ttlMs: 6000 }), true);
      assert.equal(
        await other.turnTake({ holder: "b", now: T0 + 1000, ttlMs: 6000 }),
        false,
      );
      // The holder keeps it by taking it again.
      assert.equal(await store.turnTake({ holder: "a", now: T0 + 5000, ttlMs: 6000 }), true);
      assert.equal(
        await other.turnTake({ holder: "b", now: T0 + 9000, ttlMs: 6000 }),
        false,
      );
      // A holder that stops taking it loses it once its time is up.
      assert.equal(
        await other.turnTake({ holder: "b", now: T0 + 11_001, ttlMs: 6000 }),
        true,
      );
      assert.equal(
        await store.turnTake({ holder: "a", now: T0 + 12_000, ttlMs: 6000 }),
        false,
      );
    },
  );

  test(
    "turnTake() at the same moment from many connections gives one turn",
    async (store, db) => {
      const others = [store, await db.open(), await db.open()];
      try {
        const taken = await Promise.all(
          others.flatMap((s, i) =>
            [0, 1, 2].map((k) => s.turnTake({ holder: `h${i}-${k}`, now: T0, ttlMs: 6000 }))
          ),
        );
        assert.equal(taken.filter(Boolean).length, 1);
      } finally {
        await others[1]!.close();
        await others[2]!.close();
      }
    },
  );

  test("turnTake() keeps named turns apart", async (store, db) => {
    await using other = await db.open();
    assert.equal(await store.turnTake({ holder: "a", now: T0, ttlMs: 6000 }), true);
    assert.equal(
      await other.turnTake({ name: "pruner", holder: "b", now: T0, ttlMs: 6000 }),
      true,
      "the pruner's turn is not the rescuer's",
    );
    assert.equal(
      await store.turnTake({ name: "pruner", holder: "a", now: T0 + 1000, ttlMs: 6000 }),
      false,
    );
    assert.equal(
      await other.turnTake({ name: "rescuer", holder: "b", now: T0 + 1000, ttlMs: 6000 }),
      false,
      "the default name is the rescuer's",
    );
  });

  // --- workerRemove, workerRegister again ---

  test("workerRemove() takes a worker out of the registry", async (store) => {
    await store.workerRegister({ id: "w1", pid: 1, host: "h", count: 1, queues: null, now: T0 });
    await store.workerRegister({ id: "w2", pid: 2, host: "h", count: 1, queues: null, now: T0 });
    await store.workerRemove({ id: "w1" });
    assert.deepEqual((await store.workerListAll()).map((w) => w.id), ["w2"]);
    await store.workerRemove({ id: "unknown" });
    assert.deepEqual((await store.workerListAll()).map((w) => w.id), ["w2"]);
  });

  test("workerRegister() again with the same id replaces the entry", async (store) => {
    await store.workerRegister({ id: "w1", pid: 1, host: "h", count: 1, queues: null, now: T0 });
    await store.workerRegister({
      id: "w1",
      pid: 2,
      host: "h",
      count: 3,
      queues: ["q"],
      now: T0 + 5,
    });
    const all = await store.workerListAll();
    assert.equal(all.length, 1);
    assert.deepEqual([all[0]?.pid, all[0]?.count, all[0]?.queues], [2, 3, ["q"]]);
  });

  // --- the rescuer: jobListStranded, and rescue from another connection ---

  test("jobListStranded() finds processing jobs whose lease expired", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("early")], now: T0 });
    const early = await claimOne(store, "w1", "early");
    await store.jobInsertMany({ jobs: [newJob("late")], now: T0 });
    await claimOne(store, "w2", "late", T0 + 10_000);
    await addJobIn(store, "finished", "completed");
    assert.deepEqual(await store.jobListStranded({ now: T0 + 20_000, workerIds: [] }), []);
    const stranded = await store.jobListStranded({ now: T0 + LEASE + 5000, workerIds: [] });
    assert.deepEqual(stranded.map((j) => j.id), ["early"]);
    const [job] = stranded;
    assert.equal(job?.state, "processing");
    assert.equal(job?.worker_id, "w1");
    assert.equal(job?.attempt, early.attempt);
    assert.equal(job?.started_at, T0);
    const both = await store.jobListStranded({ now: T0 + LEASE + 20_000, workerIds: [] });
    assert.deepEqual(both.map((j) => j.id).sort(), ["early", "late"]);
  });

  test("jobListStranded() finds the processing jobs of workers known to be gone", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("a")], now: T0 });
    await claimOne(store, "w1", "a");
    await store.jobInsertMany({ jobs: [newJob("b")], now: T0 });
    await claimOne(store, "w2", "b");
    assert.deepEqual(
      (await store.jobListStranded({ now: T0 + 1000, workerIds: ["w2"] })).map((j) => j.id),
      ["b"],
    );
    assert.deepEqual(
      (await store.jobListStranded({ now: T0 + 1000, workerIds: ["w1", "w2"] }))
        .map((j) => j.id).sort(),
      ["a", "b"],
    );
    assert.deepEqual(await store.jobListStranded({ now: T0 + 1000, workerIds: ["w9"] }), []);
  });

  test(
    "a store rescues another connection's stranded jobs, and their late results do not apply",
    async (store, db) => {
      await using rescuer = await db.open();
      const ids = ["s1", "s2", "s3"];
      await store.jobInsertMany({
        jobs: ids.map((id) => newJob(id, { max_retries: 3 })),
        now: T0,
      });
      const claimed = await store.jobClaim({
        workerId: "w-a",
        queues: null,
        limit: 3,
        now: T0,
        leaseMs: LEASE,
      });
      assert.equal(claimed.length, 3);
      await store.jobInsertMany({ jobs: [newJob("fresh")], now: T0 });
      const fresh = await claimOne(store, "w-a", "fresh", T0 + 20_000);

      const at = T0 + LEASE + 1;
      const stranded = await rescuer.jobListStranded({ now: at, workerIds: [] });
      assert.deepEqual(stranded.map((j) => j.id).sort(), ids, "the lease of fresh still holds");
      for (const job of stranded) assert.deepEqual([job.worker_id, job.attempt], ["w-a", 1]);
      const rescued = await rescuer.runFinishMany({
        finishes: stranded.map((job) =>
          finishOf(job, job.worker_id!, {
            outcome: "interrupted",
            exitCode: null,
            error: "interrupted: lease expired",
            state: "failed",
            nextRunAt: at + 1000,
            finishedAt: at,
          })
        ),
      });
      assert.deepEqual(rescued.sort(), ids);

      // w-a comes back and reports every attempt it ran: only fresh's applies.
      const late = await store.runFinishMany({
        finishes: [...claimed, fresh].map((job) => finishOf(job, "w-a", { finishedAt: at + 5 })),
      });
      assert.deepEqual(late, ["fresh"]);
      for (const id of ids) {
        const job = await store.jobGetWithRuns({ id });
        assert.deepEqual(
          [job?.state, job?.attempts, job?.last_error, job?.next_run_at],
          ["failed", 1, "interrupted: lease expired", isoTime(at + 1000)],
        );
        assert.deepEqual(job?.runs.map((r) => [r.attempt, r.outcome, r.worker_id]), [
          [1, "interrupted", "w-a"],
        ]);
      }
      await assertCounts(store, { failed: 3, completed: 1 });
      await assertCounts(rescuer, { failed: 3, completed: 1 });
      assert.deepEqual(
        await rescuer.jobListStranded({ now: at + 10 * LEASE, workerIds: ["w-a"] }),
        [],
      );
      const retry = await rescuer.jobClaim({
        workerId: "w-b",
        queues: null,
        limit: 3,
        now: at + 1000,
        leaseMs: LEASE,
      });
      assert.deepEqual(retry.map((j) => j.attempt), [2, 2, 2], "the rescued attempt counted");
    },
  );
}
