/**
 * Storage conformance cases for job flow: dependencies, their cascade, and
 * reading them back. Every store runs them through `storageConformance()`
 * (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import { ConflictError, NotFoundError } from "../../../../lib/errors.ts";
import { insertedJobs, isoTime, type Job, type NewJob } from "../../../../lib/job.ts";
import { death, failure, finishOf, LEASE, newJob, T0 } from "../_fixtures.ts";
import { assertCounts, assertRejects, conflict } from "./_assert.ts";
import { addJobIn, allIds, endJob, flowJob, stateOf, statesOf } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";

/** Registers the cases for job flow. */
export function flowConformance(test: ConformanceTest): void {
  // --- job flow: dependencies (README.md, "Job flow") ---

  test("jobInsertMany() inserts a job whose dependency is open as blocked, never claimed", async (store) => {
    await store.jobInsertMany({ jobs: [flowJob("a")], now: T0 });
    const jobs = [flowJob("b", ["a"]), flowJob("free")];
    const result = await store.jobInsertMany({ jobs, now: T0 });
    assert.deepEqual(result, { inserted: 2, kept: [], blocked: ["b"], replaced: [] });
    const b = await store.jobGet({ id: "b" });
    assert.equal(b?.state, "blocked");
    assert.deepEqual(b?.after, ["a"]);
    assert.deepEqual(b, insertedJobs(jobs, T0, result)[0]);
    await assertCounts(store, { pending: 2, blocked: 1 });
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 10,
      now: T0 + 3_600_000,
      leaseMs: LEASE,
    });
    assert.deepEqual(claimed.map((j) => j.id).sort(), ["a", "free"]);
    assert.equal(await stateOf(store, "b"), "blocked", "a running dependency is still open");
    assert.equal(await store.jobNextDueAt({ queues: null }), null, "a blocked job is not due");
    assert.equal(await store.jobNextDueAt({ queues: ["q-b"] }), null);
    await assertCounts(store, { processing: 2, blocked: 1 });
  });

  test("jobInsertMany() treats a completed dependency as met: the job is pending", async (store) => {
    await addJobIn(store, "done", "completed");
    const result = await store.jobInsertMany({
      jobs: [flowJob("next", ["done"])],
      now: T0 + 2000,
    });
    assert.deepEqual(result, { inserted: 1, kept: [], blocked: [], replaced: [] });
    const next = await store.jobGet({ id: "next" });
    assert.equal(next?.state, "pending");
    assert.deepEqual(next?.after, ["done"]);
    await assertCounts(store, { completed: 1, pending: 1 });
  });

  test("jobInsertMany() accepts dependencies on earlier jobs of the same batch", async (store) => {
    const jobs = [
      flowJob("first"),
      flowJob("second", ["first"]),
      flowJob("third", ["first", "second"]),
    ];
    const result = await store.jobInsertMany({ jobs, now: T0 });
    assert.deepEqual(result, {
      inserted: 3,
      kept: [],
      blocked: ["second", "third"],
      replaced: [],
    });
    const stored = await store.jobGetMany({ ids: ["first", "second", "third"] });
    assert.deepEqual(
      stored.sort((x, y) => x.id.localeCompare(y.id)),
      insertedJobs(jobs, T0, result).sort((x, y) => x.id.localeCompare(y.id)),
    );
    await assertCounts(store, { pending: 1, blocked: 2 });
  });

  test("jobInsertMany() refuses an unknown dependency with NotFoundError and adds nothing", async (store) => {
    await store.jobInsertMany({ jobs: [flowJob("old")], now: T0 });
    const cases: [NewJob[], RegExp][] = [
      [
        [flowJob("n1"), flowJob("n2", ["old", "ghost"]), flowJob("n3")],
        /"n2": dependency "ghost" not found/,
      ],
      // A later line of the batch is not there yet.
      [[flowJob("n1", ["n2"]), flowJob("n2")], /"n1": dependency "n2" not found/],
    ];
    for (const [jobs, pattern] of cases) {
      await assertRejects(
        () => store.jobInsertMany({ jobs, now: T0 }),
        (error: unknown) => {
          assert.ok(error instanceof NotFoundError, `expected a NotFoundError, got ${error}`);
          assert.match(error.message, pattern);
          return true;
        },
      );
      assert.deepEqual(await allIds(store), ["old"], "nothing of the batch was added");
    }
    await assertCounts(store, { pending: 1 });
  });

  test("jobInsertMany() refuses a job that depends on itself with ConflictError", async (store) => {
    await assertRejects(
      () => store.jobInsertMany({ jobs: [flowJob("ok"), flowJob("me", ["me"])], now: T0 }),
      conflict(/"me": it cannot depend on itself/),
    );
    await assertCounts(store, {});
  });

  test("jobInsertMany() refuses a dead or cancelled dependency with ConflictError", async (store) => {
    await addJobIn(store, "d", "dead");
    await addJobIn(store, "c", "cancelled");
    for (const [dep, state] of [["d", "dead"], ["c", "cancelled"]]) {
      await assertRejects(
        () => store.jobInsertMany({ jobs: [flowJob("x"), flowJob("y", [dep!])], now: T0 + 5000 }),
        conflict(new RegExp(`"y": dependency "${dep}" is ${state}`)),
      );
    }
    await assertCounts(store, { dead: 1, cancelled: 1 });
  });

  test("runFinishMany() unblocks a job when its last open dependency completes, due at max(run_at, then)", async (store) => {
    await store.jobInsertMany({
      jobs: [
        flowJob("a"),
        flowJob("b"),
        flowJob("soon", ["a", "b"]),
        flowJob("later", ["a", "b"], { run_at: T0 + 60_000 }),
        flowJob("only-a", ["a"]),
      ],
      now: T0,
    });
    await endJob(store, "a", "completed", T0 + 5000);
    assert.deepEqual(await statesOf(store, ["soon", "later", "only-a"]), {
      soon: "blocked",
      later: "blocked",
      "only-a": "pending",
    });
    assert.equal((await store.jobGet({ id: "only-a" }))?.next_run_at, isoTime(T0 + 5000));
    await assertCounts(store, { completed: 1, pending: 2, blocked: 2 });

    await endJob(store, "b", "completed", T0 + 9000);
    const soon = await store.jobGet({ id: "soon" });
    assert.deepEqual(
      [soon?.state, soon?.next_run_at, soon?.attempts],
      ["pending", isoTime(T0 + 9000), 0],
    );
    const later = await store.jobGet({ id: "later" });
    assert.deepEqual([later?.state, later?.next_run_at], ["pending", isoTime(T0 + 60_000)]);
    await assertCounts(store, { completed: 2, pending: 3 });
    assert.equal(await store.jobNextDueAt({ queues: ["q-later"] }), T0 + 60_000);
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 10,
      now: T0 + 9000,
      leaseMs: LEASE,
    });
    assert.deepEqual(claimed.map((j) => j.id).sort(), ["only-a", "soon"], "later is not due yet");
  });

  test("runFinishMany() completing two dependencies of a job in one call unblocks it", async (store) => {
    await store.jobInsertMany({
      jobs: [flowJob("a"), flowJob("b"), flowJob("c"), flowJob("both", ["a", "b", "c"])],
      now: T0,
    });
    await endJob(store, "c", "completed", T0 + 500);
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: ["q-a", "q-b"],
      limit: 2,
      now: T0,
      leaseMs: LEASE,
    });
    assert.equal(claimed.length, 2);
    assert.equal(await stateOf(store, "both"), "blocked");
    await store.runFinishMany({ finishes: claimed.map((job) => finishOf(job, "w1")) });
    const both = await store.jobGet({ id: "both" });
    assert.deepEqual([both?.state, both?.next_run_at], ["pending", isoTime(T0 + 1000)]);
    await assertCounts(store, { completed: 3, pending: 1 });
  });

  test("runFinishMany() runs a diamond a -> (b, c) -> d in dependency order", async (store) => {
    const ids = ["a", "b", "c", "d"];
    await store.jobInsertMany({
      jobs: [flowJob("a"), flowJob("b", ["a"]), flowJob("c", ["a"]), flowJob("d", ["b", "c"])],
      now: T0,
    });
    assert.deepEqual(await statesOf(store, ids), {
      a: "pending",
      b: "blocked",
      c: "blocked",
      d: "blocked",
    });
    await endJob(store, "a", "completed", T0 + 1000);
    assert.deepEqual(await statesOf(store, ids), {
      a: "completed",
      b: "pending",
      c: "pending",
      d: "blocked",
    });
    await endJob(store, "c", "completed", T0 + 2000);
    assert.deepEqual(await statesOf(store, ids), {
      a: "completed",
      b: "pending",
      c: "completed",
      d: "blocked",
    });
    await endJob(store, "b", "completed", T0 + 3000);
    assert.equal(await stateOf(store, "d"), "pending");
    await endJob(store, "d", "completed", T0 + 4000);
    await assertCounts(store, { completed: 4 });
  });

  test("runFinishMany() keeps dependents blocked while a dependency fails and is retried", async (store) => {
    await store.jobInsertMany({ jobs: [flowJob("flaky"), flowJob("next", ["flaky"])], now: T0 });
    const [job] = await store.jobClaim({
      workerId: "w1",
      queues: ["q-flaky"],
      limit: 1,
      now: T0,
      leaseMs: LEASE,
    });
    await store.runFinishMany({ finishes: [finishOf(job!, "w1", failure(T0 + 2000))] });
    assert.equal(await stateOf(store, "next"), "blocked");
    await endJob(store, "flaky", "completed", T0 + 3000);
    assert.equal(await stateOf(store, "next"), "pending");
  });

  test("runFinishMany() ending a job dead cancels its dependents two levels deep, naming the root cause", async (store) => {
    await store.jobInsertMany({
      jobs: [
        flowJob("a"),
        flowJob("other"),
        flowJob("b", ["a"]),
        flowJob("c", ["b"]),
        flowJob("d", ["other", "c"]),
        flowJob("safe", ["other"]),
      ],
      now: T0,
    });
    await endJob(store, "a", "dead", T0 + 1000);
    const expected: [string, string][] = [
      ["b", 'dependency "a" is dead'],
      ["c", 'dependency "b" was cancelled: dependency "a" is dead'],
      ["d", 'dependency "c" was cancelled: dependency "a" is dead'],
    ];
    for (const [id, error] of expected) {
      const job = await store.jobGet({ id });
      assert.deepEqual(
        [job?.state, job?.last_error, job?.next_run_at, job?.updated_at],
        ["cancelled", error, null, isoTime(T0 + 1000)],
        `job ${id}`,
      );
    }
    assert.equal(await stateOf(store, "safe"), "blocked");
    await assertCounts(store, { dead: 1, cancelled: 3, pending: 1, blocked: 1 });
    await endJob(store, "other", "completed", T0 + 2000);
    assert.deepEqual(await statesOf(store, ["safe", "d"]), { safe: "pending", d: "cancelled" });
  });

  test("runFinishMany() ending a job cancelled cancels its blocked dependents", async (store) => {
    await store.jobInsertMany({ jobs: [flowJob("a"), flowJob("b", ["a"])], now: T0 });
    const [job] = await store.jobClaim({
      workerId: "w1",
      queues: ["q-a"],
      limit: 1,
      now: T0,
      leaseMs: LEASE,
    });
    const [flagged] = await store.jobCancel({ ids: ["a"], now: T0 + 500 });
    assert.equal(flagged?.state, "processing");
    assert.equal(await stateOf(store, "b"), "blocked", "a is still running");
    await store.runFinishMany({
      finishes: [finishOf(job!, "w1", {
        outcome: "cancelled",
        exitCode: null,
        signal: "SIGTERM",
        error: "cancelled",
        state: "cancelled",
      })],
    });
    const b = await store.jobGet({ id: "b" });
    assert.deepEqual([b?.state, b?.last_error], ["cancelled", 'dependency "a" was cancelled']);
    await assertCounts(store, { cancelled: 2 });
  });

  test("runFinishMany() unblocks a job with 1,000 dependencies after the last completes", async (store) => {
    const deps = Array.from({ length: 1000 }, (_, i) => newJob(`dep${i}`));
    const fan = newJob("fan", { queue: "fan", after: deps.map((d) => d.id) });
    const result = await store.jobInsertMany({ jobs: [...deps, fan], now: T0 });
    assert.deepEqual(result.blocked, ["fan"]);
    assert.equal(result.inserted, 1001);
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: ["default"],
      limit: 1000,
      now: T0,
      leaseMs: LEASE,
    });
    assert.equal(claimed.length, 1000);
    for (let i = 0; i < 1000; i += 250) {
      assert.equal(await stateOf(store, "fan"), "blocked", `after ${i} completions`);
      const applied = await store.runFinishMany({
        finishes: claimed.slice(i, i + 250).map((job) =>
          finishOf(job, "w1", { finishedAt: T0 + 1000 + i })
        ),
      });
      assert.equal(applied.length, 250);
    }
    const job = await store.jobGetWithRuns({ id: "fan" });
    assert.deepEqual([job?.state, job?.next_run_at], ["pending", isoTime(T0 + 1750)]);
    assert.equal(job?.dependencies.length, 1000);
    assert.deepEqual(job?.dependencies[999], { id: "dep999", state: "completed" });
    await assertCounts(store, { completed: 1000, pending: 1 });
  });

  test("runFinishMany() moves a chain of 200 jobs along one completion at a time", async (store) => {
    const n = 200;
    const chain = Array.from(
      { length: n },
      (_, i) => newJob(`c${i}`, { after: i === 0 ? null : [`c${i - 1}`] }),
    );
    const result = await store.jobInsertMany({ jobs: chain, now: T0 });
    assert.equal(result.blocked.length, n - 1);
    await assertCounts(store, { pending: 1, blocked: n - 1 });
    for (let i = 0; i < n; i++) {
      const claimed = await store.jobClaim({
        workerId: "w1",
        queues: null,
        limit: 10,
        now: T0 + i,
        leaseMs: LEASE,
      });
      assert.deepEqual(claimed.map((j) => j.id), [`c${i}`], `step ${i}`);
      await store.runFinishMany({
        finishes: [finishOf(claimed[0]!, "w1", { finishedAt: T0 + i })],
      });
    }
    await assertCounts(store, { completed: n });
  });

  test(
    "jobInsertMany() racing the end of its dependency on another connection never leaves it blocked",
    async (store, db) => {
      await using other = await db.open();
      const rounds = 20;
      await store.jobInsertMany({
        jobs: Array.from({ length: rounds }, (_, r) => flowJob(`d${r}`)),
        now: T0,
      });
      const claimed = await store.jobClaim({
        workerId: "w1",
        queues: null,
        limit: rounds,
        now: T0,
        leaseMs: LEASE,
      });
      assert.equal(claimed.length, rounds);
      const byId = new Map(claimed.map((job) => [job.id, job]));
      for (let r = 0; r < rounds; r++) {
        // Even rounds complete the dependency, odd ones end it dead.
        const dead = r % 2 === 1;
        const [inserted] = await Promise.allSettled([
          other.jobInsertMany({ jobs: [flowJob(`x${r}`, [`d${r}`])], now: T0 }),
          store.runFinishMany({
            finishes: [finishOf(byId.get(`d${r}`)!, "w1", dead ? death() : {})],
          }),
        ]);
        const state = await stateOf(store, `x${r}`);
        if (dead) {
          // Refused (the dependency was dead first), or added and then cancelled.
          if (inserted.status === "rejected") {
            assert.ok(inserted.reason instanceof ConflictError, String(inserted.reason));
            assert.equal(state, undefined, `round ${r}: refused, so not added`);
          } else {
            assert.equal(state, "cancelled", `round ${r}: a dead dependency cancels it`);
          }
        } else {
          assert.equal(
            inserted.status,
            "fulfilled",
            `round ${r}: ${inserted.status === "rejected" ? inserted.reason : ""}`,
          );
          assert.equal(state, "pending", `round ${r}: a completed dependency is met`);
        }
      }
    },
  );

  // --- job flow: cancel and retry with dependencies ---

  test("jobCancel() cancels a blocked job and leaves its dependency alone", async (store) => {
    await store.jobInsertMany({ jobs: [flowJob("a"), flowJob("b", ["a"])], now: T0 });
    const jobs = await store.jobCancel({ ids: ["b"], now: T0 + 100 });
    assert.deepEqual(jobs.map((j) => [j.id, j.state, j.next_run_at]), [["b", "cancelled", null]]);
    assert.equal(await stateOf(store, "a"), "pending");
    await assertCounts(store, { pending: 1, cancelled: 1 });
    await endJob(store, "a", "completed", T0 + 1000);
    assert.equal(await stateOf(store, "b"), "cancelled", "a cancelled job stays cancelled");
  });

  test("jobCancel() of a dependency cancels its blocked dependents in turn", async (store) => {
    await store.jobInsertMany({
      jobs: [
        flowJob("a"),
        flowJob("other"),
        flowJob("b", ["a"]),
        flowJob("c", ["other", "b"]),
        flowJob("safe", ["other"]),
      ],
      now: T0,
    });
    const jobs = await store.jobCancel({ ids: ["a"], now: T0 + 100 });
    assert.deepEqual(jobs.map((j) => [j.id, j.state]), [["a", "cancelled"]]);
    const b = await store.jobGet({ id: "b" });
    assert.deepEqual([b?.state, b?.last_error], ["cancelled", 'dependency "a" was cancelled']);
    const c = await store.jobGet({ id: "c" });
    assert.deepEqual(
      [c?.state, c?.last_error],
      ["cancelled", 'dependency "b" was cancelled: dependency "a" was cancelled'],
    );
    assert.equal(await stateOf(store, "safe"), "blocked");
    await assertCounts(store, { pending: 1, cancelled: 3, blocked: 1 });
  });

  test("jobCancel() of a dependency and its dependent in one call cancels both", async (store) => {
    await store.jobInsertMany({ jobs: [flowJob("a"), flowJob("b", ["a"])], now: T0 });
    const jobs = await store.jobCancel({ ids: ["a", "b"], now: T0 + 100 });
    assert.deepEqual(jobs.map((j) => [j.id, j.state]), [["a", "cancelled"], ["b", "cancelled"]]);
    await assertCounts(store, { cancelled: 2 });
  });

  test("jobRetry() starts a cancelled job over: pending, attempts reset", async (store) => {
    await addJobIn(store, "c1", "cancelled");
    assert.equal((await store.jobGet({ id: "c1" }))?.attempts, 1);
    const [job] = await store.jobRetry({ ids: ["c1"], now: T0 + 5000 });
    assert.deepEqual(
      [job?.state, job?.attempts, job?.next_run_at, job?.updated_at],
      ["pending", 0, isoTime(T0 + 5000), isoTime(T0 + 5000)],
    );
    assert.deepEqual(await store.jobGet({ id: "c1" }), job);
    await assertCounts(store, { pending: 1 });
  });

  test("jobRetry() of a cancelled job is blocked while a dependency is open, pending once met", async (store) => {
    await store.jobInsertMany({
      jobs: [flowJob("a"), flowJob("b", ["a"]), flowJob("c", ["a"])],
      now: T0,
    });
    await store.jobCancel({ ids: ["b", "c"], now: T0 + 100 });
    const [b] = await store.jobRetry({ ids: ["b"], now: T0 + 200 });
    assert.deepEqual([b?.state, b?.attempts], ["blocked", 0]);
    await assertCounts(store, { pending: 1, blocked: 1, cancelled: 1 });
    await endJob(store, "a", "completed", T0 + 1000);
    assert.equal(await stateOf(store, "b"), "pending", "the retried job is unblocked");
    const [c] = await store.jobRetry({ ids: ["c"], now: T0 + 2000 });
    assert.deepEqual(
      [c?.state, c?.next_run_at],
      ["pending", isoTime(T0 + 2000)],
      "a completed dependency is met",
    );
    await assertCounts(store, { completed: 1, pending: 2 });
  });

  test("jobRetry() of a cancelled job whose dependency is dead is ConflictError naming it", async (store) => {
    await store.jobInsertMany({ jobs: [flowJob("a"), flowJob("b", ["a"])], now: T0 });
    await endJob(store, "a", "dead", T0 + 1000);
    assert.equal(await stateOf(store, "b"), "cancelled");
    await assertRejects(
      () => store.jobRetry({ ids: ["b"], now: T0 + 2000 }),
      conflict(/"b": dependency "a" is dead/),
    );
    assert.equal(await stateOf(store, "b"), "cancelled", "nothing changed");
    await store.jobRetry({ ids: ["a"], now: T0 + 3000 });
    const [b] = await store.jobRetry({ ids: ["b"], now: T0 + 3000 });
    assert.equal(b?.state, "blocked");
    await endJob(store, "a", "completed", T0 + 4000);
    assert.equal(await stateOf(store, "b"), "pending");
  });

  test("jobRetry() of a dead dependency and its cancelled dependent in one call, either order", async (store) => {
    for (const order of [["a", "b"], ["b", "a"]]) {
      const [a, b] = [`a-${order[0]}`, `b-${order[0]}`];
      await store.jobInsertMany({ jobs: [flowJob(a), flowJob(b, [a])], now: T0 });
      await endJob(store, a, "dead", T0 + 1000);
      assert.equal(await stateOf(store, b), "cancelled");
      const ids = order.map((x) => x === "a" ? a : b);
      const jobs = await store.jobRetry({ ids, now: T0 + 2000 });
      assert.deepEqual(
        Object.fromEntries(jobs.map((j) => [j.id, j.state])),
        { [a]: "pending", [b]: "blocked" },
        `retry ${ids.join(" ")}`,
      );
    }
    await assertCounts(store, { pending: 2, blocked: 2 });
  });

  // --- job flow: jobGetWithRuns, jobGetMany ---

  test("jobGetWithRuns() lists dependencies in after order with states, and dependents oldest first", async (store) => {
    await store.jobInsertMany({ jobs: [flowJob("a"), flowJob("b"), flowJob("c")], now: T0 });
    await endJob(store, "a", "completed", T0 + 1000);
    await store.jobClaim({ workerId: "w1", queues: ["q-b"], limit: 1, now: T0, leaseMs: LEASE });
    await store.jobInsertMany({ jobs: [flowJob("z", ["a"])], now: T0 + 2000 });
    await store.jobInsertMany({ jobs: [flowJob("d", ["c", "a", "b"])], now: T0 + 3000 });
    await store.jobInsertMany({ jobs: [flowJob("y", ["a"])], now: T0 + 4000 });
    const d = await store.jobGetWithRuns({ id: "d" });
    assert.deepEqual(d?.dependencies, [
      { id: "c", state: "pending" },
      { id: "a", state: "completed" },
      { id: "b", state: "processing" },
    ]);
    assert.deepEqual(d?.dependents, []);
    assert.deepEqual(d?.after, ["c", "a", "b"]);
    const a = await store.jobGetWithRuns({ id: "a" });
    assert.deepEqual(a?.dependencies, []);
    assert.deepEqual(a?.dependents, [
      { id: "z", state: "pending" },
      { id: "d", state: "blocked" },
      { id: "y", state: "pending" },
    ]);
    assert.equal(a?.runs.length, 1);
    assert.deepEqual((await store.jobGetWithRuns({ id: "b" }))?.dependents, [
      { id: "d", state: "blocked" },
    ]);
  });

  test("jobGetWithRuns() shows a dependency deleted from the DLQ with state null", async (store) => {
    await store.jobInsertMany({ jobs: [flowJob("x"), flowJob("y", ["x"])], now: T0 });
    await endJob(store, "x", "dead", T0 + 1000);
    assert.equal(await store.jobDeleteDead({}), 1);
    const y = await store.jobGetWithRuns({ id: "y" });
    assert.deepEqual([y?.state, y?.after], ["cancelled", ["x"]]);
    assert.deepEqual(y?.dependencies, [{ id: "x", state: null }]);
  });

  test("jobGetMany() returns the jobs that exist among 1,000 ids", async (store) => {
    const jobs = Array.from({ length: 1200 }, (_, i) => newJob(`j${i}`));
    await store.jobInsertMany({ jobs, now: T0 });
    const ids = [
      ...jobs.slice(300).map((j) => j.id),
      ...Array.from({ length: 100 }, (_, i) => `ghost${i}`),
    ];
    assert.equal(ids.length, 1000);
    const got = await store.jobGetMany({ ids });
    const byId = new Map(insertedJobs(jobs, T0).map((j) => [j.id, j]));
    assert.equal(got.length, 900);
    assert.deepEqual(
      got.map((j) => j.id).sort(),
      jobs.slice(300).map((j) => j.id).sort(),
    );
    for (const job of got) assert.deepEqual(job, byId.get(job.id));
    assert.deepEqual(await store.jobGetMany({ ids: [] }), []);
    assert.deepEqual(await store.jobGetMany({ ids: ["ghost"] }), []);
  });

  test("jobClaim(), jobList() and jobGetWithRuns() return after, key and retry_on as stored", async (store) => {
    await addJobIn(store, "dep", "completed");
    const job = newJob("full", { after: ["dep"], key: "k:1", retry_on: ["timeout", 75, 2] });
    await store.jobInsertMany({ jobs: [job], now: T0 + 2000 });
    const fields = (j: Job | null | undefined) => [j?.after, j?.key, j?.retry_on];
    const want = [["dep"], "k:1", ["timeout", 75, 2]];
    assert.deepEqual(fields((await store.jobList({ state: "pending", limit: 5 })).jobs[0]), want);
    assert.deepEqual(fields(await store.jobGetWithRuns({ id: "full" })), want);
    const [claimed] = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 1,
      now: T0 + 2000,
      leaseMs: LEASE,
    });
    assert.deepEqual(fields(claimed), want);
  });
}
