/**
 * Storage conformance cases for the event log: one event per change of a
 * job's state, written with the change; the gap-free `seq`; filters and
 * pages; pruning and its mark; progress; hook results. Every store runs
 * them through `storageConformance()` (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import type { QueueEvent } from "../../../../lib/event.ts";
import type { Storage } from "../../../../lib/storage/storage.ts";
import { death, failure, finishOf, LEASE, newJob, T0 } from "../_fixtures.ts";
import { claimOne, endJob, flowJob } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";

async function allEvents(store: Storage, after = 0): Promise<QueueEvent[]> {
  const page = await store.eventList({ after, limit: 10_000 });
  return page.events;
}

const brief = (e: QueueEvent) => `${e.job} ${e.type}`;

/** Registers the cases for events. */
export function eventsConformance(test: ConformanceTest): void {
  test("a job's life is one event per state change, in seq order", async (store) => {
    await store.workerRegister({ id: "w1", pid: 1, host: "h1", count: 1, queues: null, now: T0 });
    await store.jobInsertMany({ jobs: [newJob("a", { queue: "mail" })], now: T0 });
    const claimed = await claimOne(store, "w1", "a");
    await store.runStartMany({
      starts: [{ id: "a", workerId: "w1", attempt: 1, host: "h1", pgid: null, procStart: null }],
    });
    await store.runFinishMany({ finishes: [finishOf(claimed, "w1", failure(T0 + 5000))] });
    const again = await claimOne(store, "w1", "a", T0 + 5000);
    await store.runFinishMany({ finishes: [finishOf(again, "w1", { finishedAt: T0 + 6000 })] });

    const events = await allEvents(store);
    assert.deepEqual(events.map(brief), [
      "a enqueued",
      "a started",
      "a failed",
      "a started",
      "a completed",
    ]);
    assert.deepEqual(events.map((e) => e.seq), [...events.map((e) => e.seq)].sort((x, y) => x - y));
    assert.ok(new Set(events.map((e) => e.seq)).size === events.length);
    const [enqueued, started, failed, , completed] = events as [
      QueueEvent,
      QueueEvent,
      QueueEvent,
      QueueEvent,
      QueueEvent,
    ];
    assert.equal(enqueued.queue, "mail");
    assert.equal(enqueued.at, new Date(T0).toISOString());
    assert.equal(started.attempt, 1);
    assert.equal(started.worker, "w1");
    assert.equal(started.host, "h1");
    assert.deepEqual(
      [failed.attempt, failed.exit_code, failed.outcome, failed.error, failed.host, failed.worker],
      [1, 1, "failed", "exit code 1", "h1", "w1"],
    );
    assert.deepEqual(
      [completed.attempt, completed.exit_code, completed.outcome, completed.error],
      [2, 0, "succeeded", null],
    );
    assert.equal(completed.at, new Date(T0 + 6000).toISOString());
  });

  test("dead, cancelled, blocked and unblocked are events too", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("d")], now: T0 });
    const d = await claimOne(store, "w1", "d");
    await store.runFinishMany({ finishes: [finishOf(d, "w1", death())] });
    await store.jobInsertMany({ jobs: [flowJob("p"), flowJob("c", ["p"])], now: T0 + 2000 });
    await endJob(store, "p", "completed", T0 + 3000);
    await store.jobInsertMany({ jobs: [newJob("x", { queue: "q-x" })], now: T0 + 4000 });
    await store.jobCancel({ ids: ["x"], now: T0 + 5000 });
    const events = await allEvents(store);
    assert.deepEqual(events.map(brief), [
      "d enqueued",
      "d started",
      "d dead",
      "p enqueued",
      "c blocked",
      "p started",
      "p completed",
      "c unblocked",
      "x enqueued",
      "x cancelled",
    ]);
    assert.equal(events[2]!.error, "exit code 1");
  });

  test("eventList() filters by queue, type and job, and pages with `through`", async (store) => {
    await store.jobInsertMany({
      jobs: [newJob("a", { queue: "q1" }), newJob("b", { queue: "q2" }), newJob("c")],
      now: T0,
    });
    await store.jobCancel({ ids: ["b"], now: T0 + 1 });
    const byQueue = await store.eventList({ after: 0, limit: 100, queues: ["q2"] });
    assert.deepEqual(byQueue.events.map(brief), ["b enqueued", "b cancelled"]);
    const byType = await store.eventList({ after: 0, limit: 100, types: ["cancelled"] });
    assert.deepEqual(byType.events.map(brief), ["b cancelled"]);
    const byJob = await store.eventList({ after: 0, limit: 100, job: "c" });
    assert.deepEqual(byJob.events.map(brief), ["c enqueued"]);
    assert.equal(byJob.through, byJob.latest, "a filtered read still covers every event");

    const first = await store.eventList({ after: 0, limit: 2 });
    assert.deepEqual(first.events.map(brief), ["a enqueued", "b enqueued"]);
    const second = await store.eventList({ after: first.through, limit: 2 });
    assert.deepEqual(second.events.map(brief), ["c enqueued", "b cancelled"]);
    const third = await store.eventList({ after: second.through, limit: 2 });
    assert.deepEqual(third.events, []);
    assert.equal(third.through, second.through);
  });

  test("eventPrune() deletes the oldest events and raises the pruned mark", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("old")], now: T0 });
    await store.jobInsertMany({ jobs: [newJob("new")], now: T0 + 60_000 });
    const before = await allEvents(store);
    assert.equal((await store.eventList({ after: 0, limit: 1 })).prunedThrough, 0);
    assert.equal(await store.eventPrune({ before: T0 + 30_000, limit: 100 }), 1);
    const page = await store.eventList({ after: 0, limit: 100 });
    assert.deepEqual(page.events.map(brief), ["new enqueued"]);
    assert.equal(page.prunedThrough, before[0]!.seq);
    assert.equal(await store.eventPrune({ before: T0 + 30_000, limit: 100 }), 0);
    // A seq is never reused, even once every event is pruned.
    assert.equal(await store.eventPrune({ before: T0 + 120_000, limit: 100 }), 1);
    await store.jobInsertMany({ jobs: [newJob("later")], now: T0 + 200_000 });
    const [later] = await allEvents(store);
    assert.ok(later!.seq > before[1]!.seq);
  });

  test("eventMarkSet() raises a mark and never lowers it", async (store) => {
    assert.equal(await store.eventMarkGet({ name: "webhook" }), 0);
    await store.eventMarkSet({ name: "webhook", seq: 5 });
    await store.eventMarkSet({ name: "webhook", seq: 3 });
    assert.equal(await store.eventMarkGet({ name: "webhook" }), 5);
  });

  test("jobProgressSet() writes the live attempt only, coalesced, as progress events", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("p")], now: T0 });
    const write = (progress: number, now: number, attempt = 1) =>
      store.jobProgressSet({
        id: "p",
        attempt,
        progress,
        message: `at ${progress}`,
        now,
        coalesceMs: 1000,
      });
    assert.equal(await write(10, T0), "not_live", "a pending job has no live attempt");
    const claimed = await claimOne(store, "w1", "p");
    assert.equal(await write(10, T0 + 100), "written");
    assert.equal(await write(20, T0 + 500), "coalesced");
    assert.equal(await write(30, T0 + 1200), "written");
    assert.equal(await write(100, T0 + 1300), "written", "100 is never dropped");
    assert.equal(await write(50, T0 + 5000, 2), "not_live", "another attempt");
    const job = await store.jobGet({ id: "p" });
    assert.deepEqual([job?.progress, job?.progress_message], [100, "at 100"]);
    const progress = (await allEvents(store)).filter((e) => e.type === "progress");
    assert.deepEqual(progress.map((e) => [e.progress, e.message, e.attempt]), [
      [10, "at 10", 1],
      [30, "at 30", 1],
      [100, "at 100", 1],
    ]);
    await store.runFinishMany({ finishes: [finishOf(claimed, "w1", failure(T0 + 9000))] });
    assert.equal(await write(60, T0 + 9500), "not_live", "an attempt that ended");
    await claimOne(store, "w1", "p", T0 + 9000);
    const next = await store.jobGet({ id: "p" });
    assert.deepEqual([next?.progress, next?.progress_message], [null, null], "a new attempt");
  });

  test("a job enqueued with on_finish is one event, on every insert path", async (store) => {
    const hook = { on_finish: "echo done" };
    await store.jobInsertMany({ jobs: [newJob("plain", hook)], now: T0 });
    await store.jobInsertMany({ jobs: [newJob("keyed", { ...hook, key: "k" })], now: T0 });
    await store.jobInsertMany({ jobs: [newJob("after", { ...hook, after: ["plain"] })], now: T0 });
    await store.jobInsertMany({ jobs: [newJob("grouped", { ...hook, group: "g" })], now: T0 });
    assert.deepEqual((await allEvents(store)).map(brief), [
      "plain enqueued",
      "keyed enqueued",
      "after blocked",
      "grouped enqueued",
    ]);
    for (const id of ["plain", "keyed", "after", "grouped"]) {
      assert.equal((await store.jobGet({ id }))?.on_finish, "echo done", id);
    }
  });

  test("runHookSet() shows the hook on its attempt and as a hook event", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("h", { on_finish: "echo hi" })], now: T0 });
    const claimed = await claimOne(store, "w1", "h");
    await store.runFinishMany({ finishes: [finishOf(claimed, "w1")] });
    const hook = {
      outcome: "failed" as const,
      exit_code: 3,
      duration_ms: 12,
      error: "exit code 3",
    };
    await store.runHookSet({ id: "h", attempt: 1, hook, now: T0 + 2000 });
    const job = await store.jobGetWithRuns({ id: "h" });
    assert.equal(job?.on_finish, "echo hi");
    assert.deepEqual(job?.runs[0]?.hook, hook);
    assert.equal(job?.state, "completed", "a hook never changes the job");
    const last = (await allEvents(store)).at(-1)!;
    assert.deepEqual([last.type, last.exit_code, last.outcome, last.error], [
      "hook",
      3,
      "failed",
      "exit code 3",
    ]);
  });

  test("runHookSet() with eventOnly writes the hook event only, touching no run", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("p", { on_finish: "echo hi" })], now: T0 });
    const claimed = await claimOne(store, "w1", "p");
    await store.runFinishMany({ finishes: [finishOf(claimed, "w1")] });
    const before = (await store.jobGetWithRuns({ id: "p" }))!.runs.map((r) => r.hook);
    const hook = { outcome: "succeeded" as const, exit_code: 0, duration_ms: 5, error: null };
    await store.runHookSet({
      id: "p",
      attempt: 1,
      hook,
      now: T0 + 2000,
      eventOnly: { host: "h9", worker: "w9" },
    });
    await store.runHookSet({
      id: "gone",
      attempt: 0,
      hook,
      now: T0 + 2000,
      eventOnly: { host: "h9", worker: "w9" },
    });
    const after = (await store.jobGetWithRuns({ id: "p" }))!.runs.map((r) => r.hook);
    assert.deepEqual(after, before, "no run is touched");
    const hooks = (await allEvents(store)).filter((e) => e.type === "hook");
    assert.deepEqual(hooks.map((e) => [e.job, e.attempt, e.outcome, e.host, e.worker]), [
      ["p", 1, "succeeded", "h9", "w9"],
    ]);
  });

  test("an expired job is a cancelled event saying so, by the claim or the expirer", async (store) => {
    await store.jobInsertMany({
      jobs: [
        newJob("soon", { expires_at: T0 + 3000, queue: "q-soon" }),
        newJob("swept", { expires_at: T0 + 1000, queue: "q-swept" }),
        newJob("dep", { after_any: ["soon"], queue: "q-dep" }),
      ],
      now: T0,
    });
    assert.deepEqual(await store.jobExpire({ now: T0 + 2000 }), ["swept"]);
    // The claim cancels an expired job instead of starting it.
    assert.deepEqual(
      await store.jobClaim({
        workerId: "w1",
        queues: ["q-soon"],
        limit: 1,
        now: T0 + 4000,
        leaseMs: LEASE,
      }),
      [],
    );
    assert.equal((await store.jobGet({ id: "soon" }))?.state, "cancelled");
    const events = await allEvents(store);
    const ends = events.filter((e) => e.type === "cancelled");
    assert.deepEqual(ends.map((e) => [e.job, e.error, e.attempt]).sort(), [
      ["soon", "expired", 0],
      ["swept", "expired", 0],
    ]);
    assert.ok(
      events.some((e) => e.job === "dep" && e.type === "unblocked"),
      "after_any: its dependent moves on, and says so",
    );
  });

  test(
    "a rescue by lease is the attempt's failed or dead event with its run's details",
    async (store, db) => {
      await using rescuer = await db.open();
      await store.workerRegister({ id: "w1", pid: 1, host: "h1", count: 2, queues: null, now: T0 });
      await store.jobInsertMany({
        jobs: [newJob("r", { max_retries: 2 }), newJob("d", { max_retries: 0 })],
        now: T0,
      });
      const claimed = await store.jobClaim({
        workerId: "w1",
        queues: null,
        limit: 2,
        now: T0,
        leaseMs: LEASE,
      });
      assert.equal(claimed.length, 2);
      await store.runStartMany({
        starts: claimed.map((j) => ({
          id: j.id,
          workerId: "w1",
          attempt: j.attempt,
          host: "h1",
          pgid: 4242,
          procStart: null,
        })),
      });
      const at = T0 + LEASE + 1;
      const error = "interrupted: lease expired (worker w1 stopped renewing)";
      const applied = await rescuer.runFinishMany({
        finishes: claimed.map((j) =>
          finishOf(j, "w1", {
            outcome: "interrupted",
            exitCode: null,
            error,
            finishedAt: at,
            state: j.id === "r" ? "failed" : "dead",
            nextRunAt: j.id === "r" ? at + 2000 : null,
            ifLeaseExpired: true,
          })
        ),
        now: at,
      });
      assert.deepEqual([...applied].sort(), ["d", "r"]);
      const ends = (await allEvents(store)).filter((e) => e.type === "failed" || e.type === "dead");
      assert.deepEqual(
        ends.map((
          e,
        ) => [e.job, e.type, e.attempt, e.outcome, e.exit_code, e.host, e.worker, e.error])
          .sort(),
        [
          ["d", "dead", 1, "interrupted", null, "h1", "w1", error],
          ["r", "failed", 1, "interrupted", null, "h1", "w1", error],
        ],
      );
    },
  );

  test(
    "events written by another connection are read in seq order once each",
    async (store, db) => {
      await using other = await db.open();
      const seen: QueueEvent[] = [];
      let after = 0;
      for (let round = 0; round < 5; round++) {
        const jobs = Array.from({ length: 20 }, (_, i) => newJob(`r${round}-${i}`));
        await Promise.all([
          other.jobInsertMany({ jobs: jobs.slice(0, 10), now: T0 + round }),
          store.jobInsertMany({ jobs: jobs.slice(10), now: T0 + round }),
        ]);
        const page = await store.eventList({ after, limit: 7 });
        seen.push(...page.events);
        after = page.through;
      }
      while (true) {
        const page = await store.eventList({ after, limit: 7 });
        if (page.events.length === 0) break;
        seen.push(...page.events);
        after = page.through;
      }
      assert.equal(seen.length, 100);
      assert.equal(new Set(seen.map((e) => e.job)).size, 100);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.seq > seen[i - 1]!.seq);
    },
  );
}
