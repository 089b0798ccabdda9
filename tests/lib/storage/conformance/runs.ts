/**
 * Storage conformance cases for runs: the results, process details and output
 * of attempts, and their totals. Every store runs them through
 * `storageConformance()` (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import { isoTime } from "../../../../lib/job.ts";
import type { ClaimedJob } from "../../../../lib/storage/storage.ts";
import { death, failure, finishOf, LEASE, newJob, T0 } from "../_fixtures.ts";
import { assertCounts } from "./_assert.ts";
import { claimOne, stateOf, statesOf } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";

const encoder = new TextEncoder();

/** Registers the cases for runs. */
export function runsConformance(test: ConformanceTest): void {
  // --- runFinishMany, runStartMany, runOutputUpdateMany, runOutputGet ---

  test("runFinishMany() ends the attempt and records its result", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("j1"), newJob("j2")], now: T0 });
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 2,
      now: T0,
      leaseMs: LEASE,
    });
    const j1 = claimed.find((j) => j.id === "j1")!;
    const j2 = claimed.find((j) => j.id === "j2")!;
    const applied = await store.runFinishMany({
      finishes: [
        finishOf(j1, "w1", {
          ...failure(T0 + 3500, T0 + 1500),
          exitCode: 3,
          error: "exit code 3",
          stdout: encoder.encode("partial output\n"),
          stderr: encoder.encode("boom\n"),
        }),
        finishOf(j2, "w1", { finishedAt: T0 + 250, stdout: encoder.encode("ok\n") }),
      ],
    });
    assert.deepEqual(applied.sort(), ["j1", "j2"]);

    const failed = await store.jobGetWithRuns({ id: "j1" });
    assert.equal(failed?.state, "failed");
    assert.equal(failed?.attempts, 1);
    assert.equal(failed?.next_run_at, isoTime(T0 + 3500));
    assert.equal(failed?.updated_at, isoTime(T0 + 1500));
    assert.equal(failed?.last_error, "exit code 3");
    assert.deepEqual(failed?.runs, [{
      attempt: 1,
      started_at: isoTime(T0),
      finished_at: isoTime(T0 + 1500),
      duration_ms: 1500,
      outcome: "failed",
      exit_code: 3,
      signal: null,
      error: "exit code 3",
      worker_id: "w1",
      hook: null,
    }]);
    assert.deepEqual(await store.runOutputGet({ id: "j1" }), {
      id: "j1",
      attempt: 1,
      stdout: "partial output\n",
      stderr: "boom\n",
    });

    const done = await store.jobGetWithRuns({ id: "j2" });
    assert.equal(done?.state, "completed");
    assert.equal(done?.next_run_at, null);
    assert.equal(done?.last_error, null);
    assert.equal(done?.runs[0]?.outcome, "succeeded");
    assert.equal(done?.runs[0]?.duration_ms, 250);
    assert.deepEqual(await store.runOutputGet({ id: "j2" }), {
      id: "j2",
      attempt: 1,
      stdout: "ok\n",
      stderr: "",
    });
  });

  test("runFinishMany() records a death by signal and a spawn failure", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("sig"), newJob("nospawn")], now: T0 });
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 2,
      now: T0,
      leaseMs: LEASE,
    });
    const byId = Object.fromEntries(claimed.map((j) => [j.id, j]));
    await store.runFinishMany({
      finishes: [
        finishOf(byId.sig!, "w1", {
          ...death(),
          outcome: "timed_out",
          exitCode: null,
          signal: "SIGKILL",
          error: "timed out after 1 s",
        }),
        finishOf(byId.nospawn!, "w1", {
          ...death(),
          outcome: "spawn_failed",
          exitCode: null,
          error: "cwd does not exist",
        }),
      ],
    });
    const sig = (await store.jobGetWithRuns({ id: "sig" }))!;
    assert.equal(sig.state, "dead");
    assert.deepEqual(
      [sig.runs[0]?.outcome, sig.runs[0]?.exit_code, sig.runs[0]?.signal, sig.last_error],
      ["timed_out", null, "SIGKILL", "timed out after 1 s"],
    );
    const nospawn = (await store.jobGetWithRuns({ id: "nospawn" }))!;
    assert.deepEqual(
      [nospawn.runs[0]?.outcome, nospawn.runs[0]?.error],
      ["spawn_failed", "cwd does not exist"],
    );
  });

  test("runFinishMany() applies only for the worker and attempt that hold the job", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("j1")], now: T0 });
    const claimed = await claimOne(store, "w1", "j1");
    assert.deepEqual(await store.runFinishMany({ finishes: [finishOf(claimed, "w2")] }), []);
    assert.deepEqual(
      await store.runFinishMany({ finishes: [finishOf({ id: "j1", attempt: 2 }, "w1")] }),
      [],
    );
    assert.deepEqual(
      await store.runFinishMany({ finishes: [finishOf({ id: "ghost", attempt: 1 }, "w1")] }),
      [],
    );
    assert.equal(await stateOf(store, "j1"), "processing");
    assert.deepEqual(await store.runFinishMany({ finishes: [finishOf(claimed, "w1")] }), ["j1"]);
    assert.equal(await stateOf(store, "j1"), "completed");
    assert.deepEqual(
      await store.runFinishMany({
        finishes: [finishOf(claimed, "w1", death(T0 + 9000))],
      }),
      [],
      "a second result for the same attempt does not apply",
    );
    const job = await store.jobGetWithRuns({ id: "j1" });
    assert.equal(job?.state, "completed");
    assert.equal(job?.runs.length, 1);
    assert.equal(job?.runs[0]?.outcome, "succeeded");
  });

  test("runFinishMany() ignores a late result after another worker re-claimed the job", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("j1", { max_retries: 3 })], now: T0 });
    const first = await claimOne(store, "w1", "j1");
    // w1 goes silent; its lease expires and a rescuer ends the attempt as interrupted.
    const stranded = await store.jobListStranded({ now: T0 + LEASE + 1, workerIds: [] });
    assert.deepEqual(stranded.map((j) => j.id), ["j1"]);
    assert.deepEqual(
      await store.runFinishMany({
        finishes: [finishOf(first, "w1", {
          outcome: "interrupted",
          exitCode: null,
          error: "worker lost",
          state: "failed",
          nextRunAt: T0 + LEASE + 1,
          finishedAt: T0 + LEASE + 1,
        })],
      }),
      ["j1"],
    );
    const second = await claimOne(store, "w2", "j1", T0 + LEASE + 1);
    assert.equal(second.attempt, 2);
    // w1 comes back and reports its old attempt: nothing changes.
    const late = await store.runFinishMany({
      finishes: [finishOf(first, "w1", { finishedAt: T0 + LEASE + 2 })],
    });
    assert.deepEqual(late, []);
    const job = await store.jobGetWithRuns({ id: "j1" });
    assert.equal(job?.state, "processing");
    assert.equal(job?.worker_id, "w2");
    assert.equal(job?.attempts, 2);
    assert.deepEqual(job?.runs.map((r) => [r.attempt, r.outcome, r.worker_id]), [
      [1, "interrupted", "w1"],
      [2, null, "w2"],
    ]);
    assert.deepEqual(
      await store.runFinishMany({
        finishes: [finishOf(second, "w2", { finishedAt: T0 + 40_000 })],
      }),
      ["j1"],
    );
    assert.equal(await stateOf(store, "j1"), "completed");
  });

  test("runFinishMany() applies the current results of a batch and skips the stale ones", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("a"), newJob("b")], now: T0 });
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 2,
      now: T0,
      leaseMs: LEASE,
    });
    const a = claimed.find((j) => j.id === "a")!;
    const b = claimed.find((j) => j.id === "b")!;
    const applied = await store.runFinishMany({
      finishes: [finishOf(a, "w1"), finishOf({ id: b.id, attempt: 7 }, "w1")],
    });
    assert.deepEqual(applied, ["a"]);
    assert.equal(await stateOf(store, "a"), "completed");
    assert.equal(await stateOf(store, "b"), "processing");
  });

  test("runFinishMany() with uncountAttempt puts the job back without counting the attempt", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("j1")], now: T0 });
    const first = await claimOne(store, "w1", "j1");
    const applied = await store.runFinishMany({
      finishes: [finishOf(first, "w1", {
        outcome: "interrupted",
        exitCode: null,
        signal: "SIGKILL",
        error: "stopped by worker stop --force",
        state: "pending",
        nextRunAt: T0 + 1000,
        uncountAttempt: true,
      })],
    });
    assert.deepEqual(applied, ["j1"]);
    const job = await store.jobGet({ id: "j1" });
    assert.equal(job?.state, "pending");
    assert.equal(job?.attempts, 0);
    assert.equal(job?.next_run_at, isoTime(T0 + 1000));
    const again = await claimOne(store, "w2", "j1", T0 + 1000);
    assert.equal(again.attempt, 1, "the uncounted attempt is run again with the same number");
    await assertCounts(store, { processing: 1 });
  });

  test("runFinishMany() into pending without uncountAttempt keeps the attempt counted", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("j1", { max_retries: 3 })], now: T0 });
    const first = await claimOne(store, "w1", "j1");
    await store.runFinishMany({
      finishes: [finishOf(first, "w1", {
        outcome: "interrupted",
        exitCode: null,
        error: "interrupted: worker lost",
        state: "pending",
        nextRunAt: T0 + 1000,
      })],
    });
    const job = await store.jobGet({ id: "j1" });
    assert.deepEqual(
      [job?.state, job?.attempts],
      ["pending", 1],
      "the flag, not the state, uncounts",
    );
    const again = await claimOne(store, "w2", "j1", T0 + 1000);
    assert.equal(again.attempt, 2);
  });

  test("runStartMany() records where the attempt runs, only for the worker that holds it", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("j1")], now: T0 });
    const claimed = await claimOne(store, "w1", "j1");
    await store.runStartMany({ starts: [] });
    await store.runStartMany({
      starts: [{ id: "j1", workerId: "w2", attempt: 1, host: "other", pgid: 1, procStart: "x" }],
    });
    let [stranded] = await store.jobListStranded({ now: T0, workerIds: ["w1"] });
    assert.deepEqual([stranded?.host, stranded?.pgid, stranded?.proc_start], [null, null, null]);
    await store.runStartMany({
      starts: [{
        id: "j1",
        workerId: "w1",
        attempt: claimed.attempt,
        host: "box-1",
        pgid: 4242,
        procStart: "123456",
      }],
    });
    [stranded] = await store.jobListStranded({ now: T0, workerIds: ["w1"] });
    assert.deepEqual(
      [stranded?.host, stranded?.pgid, stranded?.proc_start],
      ["box-1", 4242, "123456"],
    );
  });

  test("runOutputUpdateMany() makes output of a running attempt readable", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("j1")], now: T0 });
    const claimed = await claimOne(store, "w1", "j1");
    await store.runOutputUpdateMany({ updates: [] });
    await store.runOutputUpdateMany({
      updates: [{
        id: "j1",
        workerId: "w1",
        attempt: 1,
        stdout: encoder.encode("line 1\n"),
        stderr: encoder.encode("warn\n"),
      }],
    });
    assert.deepEqual(await store.runOutputGet({ id: "j1" }), {
      id: "j1",
      attempt: 1,
      stdout: "line 1\n",
      stderr: "warn\n",
    });
    await store.runOutputUpdateMany({
      updates: [{
        id: "j1",
        workerId: "w1",
        attempt: 1,
        stdout: encoder.encode("line 1\nline 2\n"),
        stderr: encoder.encode("warn\n"),
      }],
    });
    assert.equal((await store.runOutputGet({ id: "j1" }))?.stdout, "line 1\nline 2\n");
    await store.runFinishMany({ finishes: [finishOf(claimed, "w1")] });
    assert.equal(
      (await store.runOutputGet({ id: "j1" }))?.stdout,
      "line 1\nline 2\n",
      "a finish without output keeps what was captured",
    );
  });

  test("runRecordMany() applies starts, then outputs, then finishes, with their guards", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("a"), newJob("b")], now: T0 });
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 2,
      now: T0,
      leaseMs: LEASE,
    });
    const a = claimed.find((j) => j.id === "a")!;
    const b = claimed.find((j) => j.id === "b")!;
    const { applied, claimed: none } = await store.runRecordMany({
      starts: [
        { id: "b", workerId: "w1", attempt: b.attempt, host: "box", pgid: 77, procStart: "9" },
      ],
      outputs: [
        {
          id: "a",
          workerId: "w1",
          attempt: a.attempt,
          stdout: encoder.encode("a out\n"),
          stderr: encoder.encode(""),
        },
        {
          id: "b",
          workerId: "w1",
          attempt: b.attempt,
          stdout: encoder.encode("b so far\n"),
          stderr: encoder.encode(""),
        },
      ],
      finishes: [
        // No output in the finish: what the outputs above captured is kept.
        finishOf(a, "w1", { finishedAt: T0 + 700 }),
        // A stale result for b: another attempt.
        finishOf({ id: "b", attempt: b.attempt + 1 }, "w1"),
      ],
    });
    assert.deepEqual(applied, ["a"]);
    assert.deepEqual(none, [], "no claim asked, none made");
    assert.equal(await stateOf(store, "a"), "completed");
    assert.equal((await store.runOutputGet({ id: "a" }))?.stdout, "a out\n");
    assert.equal(await stateOf(store, "b"), "processing");
    assert.equal((await store.runOutputGet({ id: "b" }))?.stdout, "b so far\n");
    const [stranded] = await store.jobListStranded({ now: T0, workerIds: ["w1"] });
    assert.deepEqual([stranded?.id, stranded?.host, stranded?.pgid], ["b", "box", 77]);
    assert.deepEqual(await store.runRecordMany({ starts: [], outputs: [], finishes: [] }), {
      applied: [],
      claimed: [],
    });
  });

  test("runRecordMany() with a claim refills the slots its finishes freed", async (store) => {
    await store.queueSet({ name: "solo", concurrency: 1 });
    await store.queueSet({ name: "held", paused: true });
    await store.jobInsertMany({
      jobs: [
        newJob("s1", { queue: "solo", priority: 9 }),
        newJob("s2", { queue: "solo", priority: 8 }),
        newJob("h1", { queue: "held", priority: 7 }),
        newJob("low", { priority: 1 }),
        newJob("later", { run_at: T0 + 60_000, priority: 5 }),
      ],
      now: T0,
    });
    const [s1] = await store.jobClaim({
      workerId: "w1",
      queues: ["solo"],
      limit: 1,
      now: T0,
      leaseMs: LEASE,
    });
    assert.equal(s1?.id, "s1");
    const claim = { workerId: "w1", queues: null, limit: 3, now: T0 + 10, leaseMs: LEASE };
    const { applied, claimed } = await store.runRecordMany({
      starts: [],
      outputs: [],
      finishes: [finishOf(s1!, "w1", { finishedAt: T0 + 5 })],
      claim,
    });
    assert.deepEqual(applied, ["s1"]);
    // s1's end made room in its limited queue; the paused queue and the job
    // not yet due stay; the order is the claim's (priority first).
    assert.deepEqual(claimed.map((j) => [j.id, j.attempt]), [["s2", 1], ["low", 1]]);
    assert.deepEqual(await statesOf(store, ["s1", "s2", "h1", "low", "later"]), {
      s1: "completed",
      s2: "processing",
      h1: "pending",
      low: "processing",
      later: "pending",
    });
    const stranded = await store.jobListStranded({ now: T0 + 10 + LEASE + 1, workerIds: [] });
    assert.deepEqual(stranded.map((j) => j.id).sort(), ["low", "s2"], "leased as a claim leases");
    // A claim alone, with nothing to record, is a claim.
    const alone = await store.runRecordMany({
      starts: [],
      outputs: [],
      finishes: [],
      claim: { ...claim, now: T0 + 60_000 },
    });
    assert.deepEqual(alone.claimed.map((j) => j.id), ["later"]);
  });

  test("runRecordMany() with a claim is all or nothing: a write that fails claims nothing", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("a"), newJob("b")], now: T0 });
    const a = await claimOne(store, "w1", "a");
    // A finish the database refuses (no time): the whole call fails.
    const broken = finishOf(a, "w1", { finishedAt: null as unknown as number });
    await assert.rejects(() =>
      store.runRecordMany({
        starts: [],
        outputs: [],
        finishes: [broken],
        claim: { workerId: "w1", queues: null, limit: 1, now: T0, leaseMs: LEASE },
      })
    );
    assert.deepEqual(await statesOf(store, ["a", "b"]), { a: "processing", b: "pending" });
    assert.equal((await store.jobGetWithRuns({ id: "b" }))?.runs.length, 0, "no run was started");
  });

  test("runOutputGet() gives the latest attempt, or the one asked for", async (store) => {
    await store.jobInsertMany({
      jobs: [newJob("j1"), newJob("never", { run_at: T0 + 10_000_000 })],
      now: T0,
    });
    const first = await claimOne(store, "w1", "j1");
    await store.runFinishMany({
      finishes: [finishOf(first, "w1", {
        ...failure(T0 + 2000),
        stdout: encoder.encode("one\n"),
        stderr: encoder.encode("err one\n"),
      })],
    });
    const [second] = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 5,
      now: T0 + 2000,
      leaseMs: LEASE,
    }).then((jobs) => jobs.filter((j) => j.id === "j1"));
    assert.ok(second);
    await store.runFinishMany({
      finishes: [finishOf(second, "w1", {
        finishedAt: T0 + 2500,
        stdout: encoder.encode("two\n"),
        stderr: encoder.encode(""),
      })],
    });
    assert.deepEqual(await store.runOutputGet({ id: "j1" }), {
      id: "j1",
      attempt: 2,
      stdout: "two\n",
      stderr: "",
    });
    assert.deepEqual(await store.runOutputGet({ id: "j1", attempt: 1 }), {
      id: "j1",
      attempt: 1,
      stdout: "one\n",
      stderr: "err one\n",
    });
    assert.equal(await store.runOutputGet({ id: "j1", attempt: 3 }), null);
    assert.equal(await store.runOutputGet({ id: "ghost" }), null);
  });

  test("runOutputGet() with run tells apart runs that share an attempt number", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("again", { max_retries: 0 })], now: T0 });
    const first = await claimOne(store, "w1", "again");
    await store.runFinishMany({
      finishes: [finishOf(first, "w1", {
        ...failure(T0 + 1000),
        state: "dead",
        nextRunAt: null,
        stdout: encoder.encode("first\n"),
      })],
    });
    await store.jobRetry({ ids: ["again"], now: T0 + 2000 });
    const second = await claimOne(store, "w1", "again", T0 + 2000);
    assert.equal(second.attempt, 1, "a DLQ retry starts the count again");
    await store.runFinishMany({
      finishes: [finishOf(second, "w1", {
        finishedAt: T0 + 2500,
        stdout: encoder.encode("second\n"),
      })],
    });
    assert.equal((await store.runOutputGet({ id: "again", attempt: 1 }))?.stdout, "second\n");
    assert.equal((await store.runOutputGet({ id: "again", run: 1 }))?.stdout, "first\n");
    assert.equal((await store.runOutputGet({ id: "again", run: 2 }))?.stdout, "second\n");
    assert.equal(await store.runOutputGet({ id: "again", run: 3 }), null);
  });

  test("runOutputGet() is null for a job that never ran", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("never")], now: T0 });
    assert.equal(await store.runOutputGet({ id: "never" }), null);
    assert.equal(await store.runOutputGet({ id: "never", attempt: 1 }), null);
  });

  test("runOutputGet() keeps bytes that are not ASCII", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("utf")], now: T0 });
    const claimed = await claimOne(store, "w1", "utf");
    await store.runFinishMany({
      finishes: [finishOf(claimed, "w1", { stdout: encoder.encode("héllo ✓\n") })],
    });
    assert.equal((await store.runOutputGet({ id: "utf" }))?.stdout, "héllo ✓\n");
  });

  // --- runFinishedCounts, runTotals ---

  test("runFinishedCounts() counts finishes since a time per bucket, only buckets with any", async (store) => {
    assert.deepEqual(await store.runFinishedCounts({ since: T0, bucketMs: 10_000 }), []);
    const ids = ["before", "edge", "fails", "next", "timeout", "cancel", "forced", "running"];
    await store.jobInsertMany({ jobs: ids.map((id) => newJob(id)), now: T0 });
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: ids.length,
      now: T0,
      leaseMs: LEASE,
    });
    const byId = Object.fromEntries(claimed.map((j) => [j.id, j]));
    assert.equal(claimed.length, ids.length);
    const since = T0 + 1000;
    await store.runFinishMany({
      finishes: [
        finishOf(byId.before!, "w1", { finishedAt: since - 1 }),
        finishOf(byId.edge!, "w1", { finishedAt: since }),
        finishOf(byId.fails!, "w1", failure(T0 + 60_000, since + 9_999)),
        finishOf(byId.next!, "w1", { finishedAt: since + 10_000 }),
        // Bucket 2 stays empty; bucket 3 holds every kind of failure.
        finishOf(byId.timeout!, "w1", {
          ...death(since + 30_000),
          outcome: "timed_out",
          exitCode: null,
          signal: "SIGKILL",
        }),
        finishOf(byId.cancel!, "w1", {
          outcome: "cancelled",
          exitCode: null,
          signal: "SIGTERM",
          state: "cancelled",
          finishedAt: since + 30_500,
        }),
        finishOf(byId.forced!, "w1", {
          outcome: "interrupted",
          exitCode: null,
          signal: "SIGKILL",
          error: "stopped by worker stop --force",
          state: "pending",
          nextRunAt: since + 39_999,
          uncountAttempt: true,
          finishedAt: since + 39_999,
        }),
      ],
    });
    const counts = async (params: { since: number; bucketMs: number }) =>
      [...await store.runFinishedCounts(params)].sort((a, b) => a.bucket - b.bucket);
    assert.deepEqual(await counts({ since, bucketMs: 10_000 }), [
      { bucket: 0, completed: 1, failed: 1 },
      { bucket: 1, completed: 1, failed: 0 },
      { bucket: 3, completed: 0, failed: 3 },
    ], "from `since` on, the running attempt left out");
    assert.deepEqual(await counts({ since: since + 10_000, bucketMs: 20_000 }), [
      { bucket: 0, completed: 1, failed: 0 },
      { bucket: 1, completed: 0, failed: 3 },
    ]);
    assert.deepEqual(await counts({ since: T0, bucketMs: 3_600_000 }), [
      { bucket: 0, completed: 3, failed: 4 },
    ]);
    assert.deepEqual(await counts({ since: since + 40_000, bucketMs: 10_000 }), []);
  });

  test("runTotals() sums finished attempts and their durations by outcome", async (store) => {
    assert.deepEqual(await store.runTotals(), []);
    await store.jobInsertMany({ jobs: ["a", "b", "c", "d"].map((id) => newJob(id)), now: T0 });
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 4,
      now: T0,
      leaseMs: LEASE,
    });
    const [a, b, c] = claimed as [ClaimedJob, ClaimedJob, ClaimedJob];
    await store.runFinishMany({
      finishes: [
        finishOf(a, "w1", { finishedAt: T0 + 1000 }),
        finishOf(b, "w1", { finishedAt: T0 + 500 }),
        finishOf(c, "w1", failure(T0 + 60_000, T0 + 2000)),
      ],
    });
    const totals = await store.runTotals();
    assert.deepEqual(
      [...totals].sort((x, y) => x.outcome.localeCompare(y.outcome)),
      [
        { outcome: "failed", count: 1, duration_ms_sum: 2000 },
        { outcome: "succeeded", count: 2, duration_ms_sum: 1500 },
      ],
      "the running attempt is not counted",
    );
  });
}
