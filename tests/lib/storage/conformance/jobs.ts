/**
 * Storage conformance cases for jobs: insert, read, list, count, retry,
 * cancel, delete and prune. Every store runs them through
 * `storageConformance()` (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import { ConflictError, NotFoundError } from "../../../../lib/errors.ts";
import { insertedJobs, isoTime, type Job, type JobState } from "../../../../lib/job.ts";
import type { ClaimedJob } from "../../../../lib/storage/storage.ts";
import { JOB_FIELDS } from "../../../_helpers.ts";
import { death, failure, finishOf, LEASE, newJob, T0 } from "../_fixtures.ts";
import { assertCounts, assertRejects } from "./_assert.ts";
import { addJobIn, allIds, claimOne, stateOf } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";
import { awaitWake, liveWatch } from "./_watch.ts";

/** Registers the cases for jobs. */
export function jobsConformance(test: ConformanceTest): void {
  // --- jobInsertMany, jobGet, jobGetWithRuns ---

  test("jobInsertMany() stores every field as insertedJobs() describes them", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("dep")], now: T0 - 1000 });
    const jobs = [
      newJob("full", {
        command: "tar czf b.tgz 'My Documents'",
        queue: "nightly",
        priority: 5,
        max_retries: 2,
        timeout: 1.5,
        env: { A: "1", EMPTY: "" },
        cwd: "/srv/data",
        run_at: T0 + 5000,
        after: ["dep"],
        key: "backup:My Documents",
        retry_on: [75, "timeout", 1],
        on_finish: "echo done",
      }),
      newJob("bare"),
    ];
    const result = await store.jobInsertMany({ jobs, now: T0 });
    assert.deepEqual(result, { inserted: 2, kept: [], blocked: ["full"], replaced: [] });
    const inserted = insertedJobs(jobs, T0, result);
    const expected: Job = {
      id: "full",
      command: "tar czf b.tgz 'My Documents'",
      state: "blocked",
      queue: "nightly",
      priority: 5,
      max_retries: 2,
      timeout: 1.5,
      env: { A: "1", EMPTY: "" },
      cwd: "/srv/data",
      attempts: 0,
      created_at: "2026-01-01T12:00:00.000Z",
      updated_at: "2026-01-01T12:00:00.000Z",
      next_run_at: "2026-01-01T12:00:05.000Z",
      last_error: null,
      worker_id: null,
      after: ["dep"],
      key: "backup:My Documents",
      retry_on: [75, "timeout", 1],
      group: null,
      backoff_base: null,
      backoff_max: null,
      expires_at: null,
      after_any: null,
      unique_for: null,
      on_finish: "echo done",
      progress: null,
      progress_message: null,
      tags: null,
    };
    assert.equal(inserted.length, 2);
    assert.deepEqual(inserted[0], expected);
    assert.deepEqual(await store.jobGet({ id: "full" }), expected);
    const bare = await store.jobGet({ id: "bare" });
    assert.ok(bare);
    assert.deepEqual(Object.keys(bare).sort(), JOB_FIELDS);
    assert.deepEqual(
      [
        bare.max_retries,
        bare.timeout,
        bare.env,
        bare.cwd,
        bare.last_error,
        bare.worker_id,
        bare.after,
        bare.key,
        bare.retry_on,
      ],
      [null, null, null, null, null, null, null, null, null],
    );
    assert.deepEqual(inserted[1], bare);
  });

  test("jobInsertMany() inserts nothing when one id already exists", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("taken")], now: T0 });
    await assertRejects(
      () =>
        store.jobInsertMany({ jobs: [newJob("new1"), newJob("taken"), newJob("new2")], now: T0 }),
      (error: unknown) => {
        assert.ok(error instanceof ConflictError, String(error));
        assert.match(error.message, /"taken"/);
        return true;
      },
    );
    assert.deepEqual(await allIds(store), ["taken"]);
    assert.equal(await store.jobGet({ id: "new1" }), null);
    await assertCounts(store, { pending: 1 });
  });

  test("jobInsertMany() inserts nothing when an id repeats within the batch", async (store) => {
    await assertRejects(
      () => store.jobInsertMany({ jobs: [newJob("x"), newJob("y"), newJob("x")], now: T0 }),
      (error: unknown) => {
        assert.ok(error instanceof ConflictError, String(error));
        assert.match(error.message, /"x"/);
        return true;
      },
    );
    assert.deepEqual(await allIds(store), []);
    await assertCounts(store, {});
  });

  test("jobInsertMany() of thousands of jobs stores each, and names a repeat far in", async (store) => {
    // Sizes that are no round number, so a store that writes in groups has a remainder.
    const many = (n: number, prefix: string) =>
      Array.from({ length: n }, (_, i) =>
        newJob(`${prefix}${i}`, {
          priority: i % 3,
          env: i % 2 ? { I: String(i) } : null,
          run_at: T0 + i,
        }));
    const jobs = many(2_345, "m");
    assert.equal((await store.jobInsertMany({ jobs, now: T0 })).inserted, jobs.length);
    const inserted = insertedJobs(jobs, T0);
    for (const i of [0, 1, 499, 500, 1_001, 2_344]) {
      assert.deepEqual(await store.jobGet({ id: `m${i}` }), inserted[i], `job m${i}`);
      assert.equal(inserted[i]!.env?.I, i % 2 ? String(i) : undefined);
    }
    await assertCounts(store, { pending: jobs.length });

    for (const repeat of ["r1_500", "m1500"]) {
      const batch = many(1_999, "r1_");
      batch[1_700] = newJob(repeat); // an earlier line of the batch, or a stored job
      await assertRejects(
        () => store.jobInsertMany({ jobs: batch, now: T0 }),
        (error: unknown) => {
          assert.ok(error instanceof ConflictError, String(error));
          assert.match(error.message, new RegExp(`"${repeat}"`));
          return true;
        },
      );
    }
    await assertCounts(store, { pending: jobs.length });
  });

  test("jobInsertMany() of an empty batch changes nothing", async (store) => {
    assert.deepEqual(await store.jobInsertMany({ jobs: [], now: T0 }), {
      inserted: 0,
      kept: [],
      blocked: [],
      replaced: [],
    });
    await assertCounts(store, {});
  });

  test("jobGet() and jobGetWithRuns() return null for an unknown id", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("known")], now: T0 });
    assert.equal(await store.jobGet({ id: "unknown" }), null);
    assert.equal(await store.jobGetWithRuns({ id: "unknown" }), null);
    assert.equal(await store.jobGet({ id: "KNOWN" }), null, "ids are case-sensitive");
  });

  test("jobGetWithRuns() returns the job with an empty runs array before it runs", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("fresh")], now: T0 });
    const job = await store.jobGetWithRuns({ id: "fresh" });
    assert.deepEqual(job, {
      ...(await store.jobGet({ id: "fresh" }))!,
      runs: [],
      dependencies: [],
      dependents: [],
    });
  });

  // --- jobList ---

  test("jobList() lists newest first, ties newest enqueued first", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("b"), newJob("a"), newJob("c")], now: T0 });
    await store.jobInsertMany({ jobs: [newJob("e"), newJob("d")], now: T0 + 1000 });
    await store.jobInsertMany({ jobs: [newJob("0")], now: T0 + 2000 });
    const page = await store.jobList({ limit: 50 });
    assert.deepEqual(page.jobs.map((j) => j.id), ["0", "d", "e", "c", "a", "b"]);
    // Not as strings: batch-3 was enqueued before batch-30.
    const batch = Array.from({ length: 31 }, (_, i) => newJob(`batch-${i + 1}`));
    await store.jobInsertMany({ jobs: batch, now: T0 + 3000 });
    const recent = await store.jobList({ limit: 30 });
    assert.deepEqual(recent.jobs.map((j) => j.id), batch.slice(1).reverse().map((j) => j.id));
    assert.equal(page.nextCursor, null);
  });

  test("jobList() honours the limit and gives a cursor only when more remain", async (store) => {
    await store.jobInsertMany({ jobs: ["a", "b", "c", "d"].map((id) => newJob(id)), now: T0 });
    const first = await store.jobList({ limit: 3 });
    assert.deepEqual(first.jobs.map((j) => j.id), ["d", "c", "b"]);
    assert.notEqual(first.nextCursor, null);
    const exact = await store.jobList({ limit: 4 });
    assert.equal(exact.jobs.length, 4);
    assert.equal(exact.nextCursor, null, "no cursor when the page holds the last job");
  });

  test("jobList() pages with a cursor without gaps or duplicates", async (store) => {
    // Ids with dots and colons, many sharing a creation time, over several times.
    for (let t = 0; t < 5; t++) {
      const jobs = Array.from({ length: 2 + t }, (_, i) => newJob(`j.${t}:${i}`));
      await store.jobInsertMany({ jobs, now: T0 + t * 1000 });
    }
    const all = (await store.jobList({ limit: 1000 })).jobs.map((j) => j.id);
    assert.equal(all.length, 20);
    for (const limit of [1, 3, 4, 7, 20]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await store.jobList({ limit, cursor });
        pages++;
        assert.ok(page.jobs.length <= limit);
        seen.push(...page.jobs.map((j) => j.id));
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
        assert.ok(pages <= 20, "paging ends");
      }
      assert.deepEqual(seen, all, `pages of ${limit}`);
      assert.equal(pages, Math.ceil(20 / limit), `number of pages of ${limit}`);
    }
  });

  test("jobList() pages through a filtered list too", async (store) => {
    const jobs = Array.from(
      { length: 10 },
      (_, i) => newJob(`k${i}`, { queue: i % 2 ? "odd" : "even" }),
    );
    await store.jobInsertMany({ jobs, now: T0 });
    const first = await store.jobList({ queue: "odd", limit: 3 });
    assert.deepEqual(first.jobs.map((j) => j.id), ["k9", "k7", "k5"]);
    const second = await store.jobList({ queue: "odd", limit: 3, cursor: first.nextCursor! });
    assert.deepEqual(second.jobs.map((j) => j.id), ["k3", "k1"]);
    assert.equal(second.nextCursor, null);
  });

  test("jobList() filters by state, by queue and by both", async (store) => {
    await addJobIn(store, "done1", "completed", { overrides: { queue: "q1" } });
    await addJobIn(store, "dead1", "dead", { overrides: { queue: "q2" } });
    await store.jobInsertMany({
      jobs: [newJob("p1", { queue: "q1" }), newJob("p2", { queue: "q2" }), newJob("p3")],
      now: T0 + 10,
    });
    const ids = async (params: { state?: JobState; queue?: string }) =>
      (await store.jobList({ ...params, limit: 50 })).jobs.map((j) => j.id).sort();
    assert.deepEqual(await ids({ state: "pending" }), ["p1", "p2", "p3"]);
    assert.deepEqual(await ids({ state: "completed" }), ["done1"]);
    assert.deepEqual(await ids({ state: "failed" }), []);
    assert.deepEqual(await ids({ queue: "q1" }), ["done1", "p1"]);
    assert.deepEqual(await ids({ queue: "default" }), ["p3"]);
    assert.deepEqual(await ids({ queue: "nope" }), []);
    assert.deepEqual(await ids({ state: "pending", queue: "q2" }), ["p2"]);
    assert.deepEqual(await ids({ state: "dead", queue: "q2" }), ["dead1"]);
  });

  test("jobList() searches a substring of the id or the command, wildcards literal", async (store) => {
    await store.jobInsertMany({
      jobs: [
        newJob("alpha", { command: "echo one" }),
        newJob("beta", { command: "df 100%" }),
        newJob("gamma_1", { command: "ls" }),
        newJob("gammax1", { command: "ls" }),
        newJob("delta", { command: "grep a\\b" }),
      ],
      now: T0,
    });
    const search = async (text: string) =>
      (await store.jobList({ search: text, limit: 50 })).jobs.map((j) => j.id).sort();
    assert.deepEqual(await search("eta"), ["beta"], "part of an id");
    assert.deepEqual(await search("echo"), ["alpha"], "part of a command");
    assert.deepEqual(await search("100%"), ["beta"]);
    assert.deepEqual(await search("%"), ["beta"], "% is not a wildcard");
    assert.deepEqual(await search("a_1"), ["gamma_1"], "_ is not a wildcard");
    assert.deepEqual(await search("a\\b"), ["delta"], "a backslash is literal");
    assert.deepEqual(await search("gamma"), ["gamma_1", "gammax1"]);
    assert.deepEqual(await search("zzz"), []);
    const both = await store.jobList({ search: "gamma", limit: 1 });
    assert.equal(both.jobs.length, 1);
    const rest = await store.jobList({ search: "gamma", limit: 1, cursor: both.nextCursor! });
    assert.deepEqual(
      [...both.jobs, ...rest.jobs].map((j) => j.id).sort(),
      ["gamma_1", "gammax1"],
    );
  });

  // --- jobCountByState ---

  test("jobCountByState() has every state, all zero on an empty store", async (store) => {
    await assertCounts(store, {});
  });

  test("jobCountByState() stays right through claim, finish, retry, cancel and delete", async (store) => {
    await store.jobInsertMany({
      jobs: ["j1", "j2", "j3", "j4", "j5", "j6"].map((id) => newJob(id)),
      now: T0,
    });
    await assertCounts(store, { pending: 6 });

    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 3,
      now: T0,
      leaseMs: LEASE,
    });
    assert.equal(claimed.length, 3);
    await assertCounts(store, { pending: 3, processing: 3 });
    const [c1, c2, c3] = claimed as [ClaimedJob, ClaimedJob, ClaimedJob];

    await store.runFinishMany({
      finishes: [
        finishOf(c1, "w1"),
        finishOf(c2, "w1", failure(T0 + 60_000)),
        finishOf(c3, "w1", death()),
      ],
    });
    await assertCounts(store, { pending: 3, completed: 1, failed: 1, dead: 1 });

    const pendingIds = await allIds(store, "pending");
    await store.jobCancel({ ids: [pendingIds[0]!], now: T0 + 2000 });
    await assertCounts(store, { pending: 2, completed: 1, failed: 1, dead: 1, cancelled: 1 });

    await store.jobRetry({ ids: [c2.id], now: T0 + 3000 });
    await assertCounts(store, { pending: 3, completed: 1, dead: 1, cancelled: 1 });

    await store.jobRetry({ ids: [c3.id], now: T0 + 4000 });
    await assertCounts(store, { pending: 4, completed: 1, cancelled: 1 });

    const [running] = await store.jobClaim({
      workerId: "w2",
      queues: null,
      limit: 1,
      now: T0 + 5000,
      leaseMs: LEASE,
    });
    assert.ok(running);
    await store.jobCancel({ ids: [running.id], now: T0 + 5000 });
    await assertCounts(store, { pending: 3, processing: 1, completed: 1, cancelled: 1 });
    await store.runFinishMany({
      finishes: [finishOf(running, "w2", {
        outcome: "cancelled",
        state: "cancelled",
        exitCode: null,
        signal: "SIGTERM",
      })],
    });
    await assertCounts(store, { pending: 3, completed: 1, cancelled: 2 });

    const [doomed] = await store.jobClaim({
      workerId: "w2",
      queues: null,
      limit: 1,
      now: T0 + 6000,
      leaseMs: LEASE,
    });
    assert.ok(doomed);
    await store.runFinishMany({ finishes: [finishOf(doomed, "w2", death(T0 + 6000))] });
    await assertCounts(store, { pending: 2, completed: 1, cancelled: 2, dead: 1 });
    assert.equal(await store.jobRetryAllDead({ now: T0 + 7000 }), 1);
    await assertCounts(store, { pending: 3, completed: 1, cancelled: 2 });

    const [again] = await store.jobClaim({
      workerId: "w2",
      queues: null,
      limit: 1,
      now: T0 + 8000,
      leaseMs: LEASE,
    });
    assert.ok(again);
    await store.runFinishMany({ finishes: [finishOf(again, "w2", death(T0 + 8000))] });
    assert.equal(await store.jobDeleteDead({}), 1);
    await assertCounts(store, { pending: 2, completed: 1, cancelled: 2 });
  });

  // --- jobRetry, jobRetryAllDead ---

  test("jobRetry() runs a failed job now and keeps its attempts", async (store) => {
    await addJobIn(store, "f1", "failed");
    const before = await store.jobGet({ id: "f1" });
    assert.equal(before?.next_run_at, isoTime(T0 + 3_600_000));
    const [job] = await store.jobRetry({ ids: ["f1"], now: T0 + 5000 });
    assert.equal(job?.id, "f1");
    assert.equal(job?.state, "pending");
    assert.equal(job?.attempts, 1);
    assert.equal(job?.next_run_at, isoTime(T0 + 5000));
    assert.equal(job?.updated_at, isoTime(T0 + 5000));
    assert.deepEqual(await store.jobGet({ id: "f1" }), job);
    const [claimed] = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 1,
      now: T0 + 5000,
      leaseMs: LEASE,
    });
    assert.equal(claimed?.attempt, 2, "the retry is the next attempt");
  });

  test("jobRetry() starts a dead job over with attempts reset", async (store) => {
    await addJobIn(store, "d1", "dead");
    assert.equal((await store.jobGet({ id: "d1" }))?.attempts, 1);
    const [job] = await store.jobRetry({ ids: ["d1"], now: T0 + 5000 });
    assert.equal(job?.state, "pending");
    assert.equal(job?.attempts, 0);
    assert.equal(job?.next_run_at, isoTime(T0 + 5000));
  });

  test("jobRetry() refuses pending, blocked, processing and completed jobs, naming the state", async (store) => {
    await addJobIn(store, "s-processing", "processing");
    await addJobIn(store, "s-completed", "completed");
    await addJobIn(store, "s-pending", "pending");
    await store.jobInsertMany({ jobs: [newJob("s-blocked", { after: ["s-pending"] })], now: T0 });
    for (const state of ["pending", "blocked", "processing", "completed"]) {
      await assertRejects(
        () => store.jobRetry({ ids: [`s-${state}`], now: T0 + 5000 }),
        (error: unknown) => {
          assert.ok(error instanceof ConflictError, String(error));
          assert.match(error.message, new RegExp(`"s-${state}"`));
          assert.match(error.message, new RegExp(`job is ${state}`));
          return true;
        },
      );
      assert.equal(await stateOf(store, `s-${state}`), state);
    }
  });

  test("jobRetry() is all or none when one job conflicts", async (store) => {
    await addJobIn(store, "d1", "dead");
    await addJobIn(store, "p1", "pending");
    await assertRejects(() => store.jobRetry({ ids: ["d1", "p1"], now: T0 + 5000 }), ConflictError);
    assert.equal(await stateOf(store, "d1"), "dead");
    await assertCounts(store, { dead: 1, pending: 1 });
  });

  test("jobRetry() with dlqOnly retries dead jobs and refuses any other, all or none", async (store) => {
    await addJobIn(store, "f1", "failed");
    await addJobIn(store, "d1", "dead");
    await assertRejects(
      () => store.jobRetry({ ids: ["d1", "f1"], now: T0 + 5000, dlqOnly: true }),
      (error: unknown) =>
        error instanceof ConflictError && /from the DLQ: job is failed/.test(error.message),
    );
    assert.equal(await stateOf(store, "d1"), "dead", "nothing changed");
    const [job] = await store.jobRetry({ ids: ["d1"], now: T0 + 5000, dlqOnly: true });
    assert.equal(job?.state, "pending");
    assert.equal(job?.attempts, 0);
  });

  test("jobRetry() of an unknown id is NotFoundError and changes nothing", async (store) => {
    await addJobIn(store, "d1", "dead");
    await assertRejects(
      () => store.jobRetry({ ids: ["d1", "ghost"], now: T0 + 5000 }),
      (error: unknown) => {
        assert.ok(error instanceof NotFoundError, String(error));
        assert.match(error.message, /"ghost"/);
        return true;
      },
    );
    assert.equal(await stateOf(store, "d1"), "dead");
  });

  test("jobRetryAllDead() moves every dead job to pending, attempts reset, and counts them", async (store) => {
    await addJobIn(store, "d1", "dead");
    await addJobIn(store, "d2", "dead");
    await addJobIn(store, "f1", "failed");
    assert.equal(await store.jobRetryAllDead({ now: T0 + 5000 }), 2);
    for (const id of ["d1", "d2"]) {
      const job = await store.jobGet({ id });
      assert.equal(job?.state, "pending");
      assert.equal(job?.attempts, 0);
      assert.equal(job?.next_run_at, isoTime(T0 + 5000));
    }
    assert.equal(await stateOf(store, "f1"), "failed");
    assert.equal(await store.jobRetryAllDead({ now: T0 + 6000 }), 0);
    await assertCounts(store, { pending: 2, failed: 1 });
  });

  // --- jobCancel ---

  test("jobCancel() cancels pending and failed jobs at once", async (store) => {
    await addJobIn(store, "f1", "failed");
    await addJobIn(store, "p1", "pending");
    const jobs = await store.jobCancel({ ids: ["p1", "f1"], now: T0 + 5000 });
    assert.deepEqual(jobs.map((j) => [j.id, j.state, j.next_run_at]), [
      ["p1", "cancelled", null],
      ["f1", "cancelled", null],
    ]);
    assert.equal((await store.jobGet({ id: "p1" }))?.updated_at, isoTime(T0 + 5000));
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 10,
      now: T0 + 10_000_000,
      leaseMs: LEASE,
    });
    assert.deepEqual(claimed, [], "cancelled jobs are never claimed");
  });

  test("jobCancel() flags a processing job for its worker to stop", async (store) => {
    await store.workerRegister({
      id: "w1",
      pid: 42,
      host: "h",
      count: 1,
      queues: null,
      now: T0,
    });
    await store.jobInsertMany({ jobs: [newJob("run1")], now: T0 });
    const claimed = await claimOne(store, "w1", "run1");
    const before = await store.workerHeartbeat({ id: "w1", now: T0 + 100, leaseMs: LEASE });
    assert.deepEqual(before.cancelRequested, []);
    const [job] = await store.jobCancel({ ids: ["run1"], now: T0 + 200 });
    assert.equal(job?.state, "processing", "a running job is stopped by its worker first");
    const after = await store.workerHeartbeat({ id: "w1", now: T0 + 300, leaseMs: LEASE });
    assert.deepEqual(after.cancelRequested, ["run1"]);
    await store.runFinishMany({
      finishes: [finishOf(claimed, "w1", {
        outcome: "cancelled",
        state: "cancelled",
        exitCode: null,
        signal: "SIGTERM",
      })],
    });
    assert.equal(await stateOf(store, "run1"), "cancelled");
    const later = await store.workerHeartbeat({ id: "w1", now: T0 + 400, leaseMs: LEASE });
    assert.deepEqual(later.cancelRequested, []);
  });

  test("jobCancel() refuses finished jobs naming the state, all or none", async (store) => {
    await addJobIn(store, "s-completed", "completed");
    await addJobIn(store, "s-dead", "dead");
    await addJobIn(store, "s-cancelled", "cancelled");
    await addJobIn(store, "p1", "pending");
    for (const state of ["completed", "dead", "cancelled"]) {
      await assertRejects(
        () => store.jobCancel({ ids: ["p1", `s-${state}`], now: T0 + 5000 }),
        (error: unknown) => {
          assert.ok(error instanceof ConflictError, String(error));
          assert.match(error.message, new RegExp(`"s-${state}"`));
          assert.match(error.message, new RegExp(`job is ${state}`));
          return true;
        },
      );
      assert.equal(await stateOf(store, `s-${state}`), state);
    }
    assert.equal(await stateOf(store, "p1"), "pending", "the pending job was not cancelled");
  });

  test("jobCancel() of an unknown id is NotFoundError and changes nothing", async (store) => {
    await addJobIn(store, "p1", "pending");
    await assertRejects(() => store.jobCancel({ ids: ["p1", "ghost"], now: T0 }), NotFoundError);
    assert.equal(await stateOf(store, "p1"), "pending");
  });

  // --- jobDeleteDead ---

  test("jobDeleteDead() deletes every dead job and its history, nothing else", async (store) => {
    await addJobIn(store, "d1", "dead");
    await addJobIn(store, "d2", "dead");
    await addJobIn(store, "f1", "failed");
    await addJobIn(store, "c1", "completed");
    await addJobIn(store, "p1", "pending");
    assert.equal(await store.jobDeleteDead({}), 2);
    assert.equal(await store.jobGet({ id: "d1" }), null);
    assert.equal(await store.runOutputGet({ id: "d1" }), null, "its attempts are gone too");
    assert.deepEqual((await allIds(store)).sort(), ["c1", "f1", "p1"]);
    assert.equal(await store.jobDeleteDead({}), 0);
    await assertCounts(store, { failed: 1, completed: 1, pending: 1 });
  });

  test("jobDeleteDead() with olderThan deletes only jobs dead before it", async (store) => {
    await addJobIn(store, "old", "dead", { finishedAt: T0 + 1000 });
    await addJobIn(store, "new", "dead", { finishedAt: T0 + 9000 });
    assert.equal(await store.jobDeleteDead({ olderThan: T0 + 5000 }), 1);
    assert.equal(await store.jobGet({ id: "old" }), null);
    assert.equal(await stateOf(store, "new"), "dead");
    assert.equal(await store.jobDeleteDead({ olderThan: T0 + 5000 }), 0);
    assert.equal(await store.jobDeleteDead({ olderThan: T0 + 10_000 }), 1);
    await assertCounts(store, {});
  });

  // --- jobNextRetryAt ---

  test("jobNextRetryAt() gives when the earliest failed job is retried, or null", async (store) => {
    assert.equal(await store.jobNextRetryAt(), null, "an empty store");
    await store.jobInsertMany({
      jobs: [
        newJob("late"),
        newJob("soon"),
        newJob("dies"),
        newJob("runs"),
        newJob("waits", { run_at: T0 + 1000 }),
      ],
      now: T0,
    });
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 4,
      now: T0,
      leaseMs: LEASE,
    });
    const byId = Object.fromEntries(claimed.map((j) => [j.id, j]));
    assert.deepEqual(Object.keys(byId).sort(), ["dies", "late", "runs", "soon"]);
    assert.equal(await store.jobNextRetryAt(), null, "pending and processing jobs are no retries");
    await store.runFinishMany({
      finishes: [
        finishOf(byId.late!, "w1", failure(T0 + 9000)),
        finishOf(byId.soon!, "w1", failure(T0 + 5000)),
        finishOf(byId.dies!, "w1", death()),
      ],
    });
    assert.equal(await store.jobNextRetryAt(), T0 + 5000);
    await store.jobRetry({ ids: ["soon"], now: T0 + 2000 });
    assert.equal(await store.jobNextRetryAt(), T0 + 9000, "a retried job waits as pending");
    await store.jobCancel({ ids: ["late"], now: T0 + 3000 });
    assert.equal(await store.jobNextRetryAt(), null, "a dead job is never retried by itself");
  });

  // --- jobPrune ---

  test("jobPrune() deletes final jobs older than their cutoff, with their history", async (store) => {
    await addJobIn(store, "c-old", "completed", { finishedAt: T0 + 1000 });
    await addJobIn(store, "c-new", "completed", { finishedAt: T0 + 9000 });
    await addJobIn(store, "x-old", "cancelled", { finishedAt: T0 + 1000 });
    await addJobIn(store, "d-old", "dead", { finishedAt: T0 + 1000 });
    await addJobIn(store, "f-old", "failed", { finishedAt: T0 + 1000 });
    await addJobIn(store, "r-old", "processing");
    await store.jobInsertMany({ jobs: [newJob("p-old")], now: T0 });
    const cut = T0 + 5000;
    const dry = await store.jobPrune({
      before: { completed: cut, cancelled: cut, dead: null },
      dryRun: true,
    });
    assert.deepEqual(dry, { completed: 1, cancelled: 1, dead: 0 });
    assert.equal((await allIds(store)).length, 7, "a dry run deletes nothing");
    const done = await store.jobPrune({ before: { completed: cut, cancelled: cut } });
    assert.deepEqual(done, { completed: 1, cancelled: 1, dead: 0 });
    assert.equal(await store.jobGet({ id: "c-old" }), null);
    assert.equal(await store.runOutputGet({ id: "c-old" }), null, "its attempts are gone too");
    assert.equal(await store.jobGet({ id: "x-old" }), null);
    assert.deepEqual(
      (await allIds(store)).sort(),
      ["c-new", "d-old", "f-old", "p-old", "r-old"],
      "active jobs, newer ones and a kept state stay",
    );
    assert.deepEqual(await store.jobPrune({ before: { dead: T0 + 5000 } }), {
      completed: 0,
      cancelled: 0,
      dead: 1,
    });
    // Even a cutoff in the future never touches active jobs.
    const future = T0 + 3_600_000;
    await store.jobPrune({ before: { completed: future, cancelled: future, dead: future } });
    assert.deepEqual((await allIds(store)).sort(), ["f-old", "p-old", "r-old"]);
    await assertCounts(store, { failed: 1, pending: 1, processing: 1 });
  });

  test("jobPrune() with a limit deletes at most that many a call", async (store) => {
    for (let i = 0; i < 5; i++) await addJobIn(store, `c${i}`, "completed");
    await addJobIn(store, "x0", "cancelled");
    const cut = T0 + 5000;
    const before = { completed: cut, cancelled: cut, dead: cut };
    assert.deepEqual(await store.jobPrune({ before, limit: 4 }), {
      completed: 4,
      cancelled: 0,
      dead: 0,
    });
    assert.deepEqual(await store.jobPrune({ before, limit: 4 }), {
      completed: 1,
      cancelled: 1,
      dead: 0,
    });
    assert.deepEqual(await store.jobPrune({ before, limit: 4 }), {
      completed: 0,
      cancelled: 0,
      dead: 0,
    });
    await assertCounts(store, {});
  });

  // --- jobRunNow and the delayed view of jobList ---

  test("jobList() with dueAfter lists delayed pending jobs, soonest due first, paged", async (store) => {
    await addJobIn(store, "running", "processing");
    await store.jobInsertMany({
      jobs: [
        newJob("due"),
        newJob("later", { run_at: T0 + 60_000 }),
        newJob("soon", { run_at: T0 + 5_000 }),
        newJob("latest", { run_at: T0 + 3_600_000, queue: "other" }),
      ],
      now: T0,
    });
    const first = await store.jobList({ dueAfter: T0, limit: 2 });
    assert.deepEqual(first.jobs.map((j) => j.id), ["soon", "later"]);
    assert.ok(first.nextCursor);
    const second = await store.jobList({ dueAfter: T0, limit: 2, cursor: first.nextCursor });
    assert.deepEqual(second.jobs.map((j) => j.id), ["latest"]);
    assert.equal(second.nextCursor, null);
    const other = await store.jobList({ dueAfter: T0, queue: "other", limit: 10 });
    assert.deepEqual(other.jobs.map((j) => j.id), ["latest"]);
    // Later, what was delayed is due.
    const after = await store.jobList({ dueAfter: T0 + 60_000, limit: 10 });
    assert.deepEqual(after.jobs.map((j) => j.id), ["latest"]);
  });

  test("jobRunNow() makes a delayed pending job due now, and the claim takes it", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("later", { run_at: T0 + 3_600_000 })], now: T0 });
    assert.deepEqual(
      await store.jobClaim({ workerId: "w1", queues: null, limit: 1, now: T0, leaseMs: LEASE }),
      [],
    );
    const job = await store.jobRunNow({ id: "later", now: T0 + 1000 });
    assert.equal(job.state, "pending");
    assert.equal(job.next_run_at, isoTime(T0 + 1000));
    assert.equal(job.updated_at, isoTime(T0 + 1000));
    await claimOne(store, "w1", "later", T0 + 1000);
    await assertCounts(store, { processing: 1 });
  });

  test("jobRunNow() leaves a due job's place as it is", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("due", { run_at: T0 - 5000 })], now: T0 - 5000 });
    const job = await store.jobRunNow({ id: "due", now: T0 });
    assert.equal(job.next_run_at, isoTime(T0 - 5000));
  });

  test("jobRunNow() refuses a job that is not pending, and names a missing one", async (store) => {
    await addJobIn(store, "running", "processing");
    await addJobIn(store, "done", "completed");
    await store.jobInsertMany({
      jobs: [newJob("dep", { run_at: T0 + 60_000 }), newJob("child", { after: ["dep"] })],
      now: T0,
    });
    for (
      const [id, state] of [["running", "processing"], ["done", "completed"], ["child", "blocked"]]
    ) {
      await assertRejects(() => store.jobRunNow({ id: id!, now: T0 + 2000 }), (error: unknown) => {
        assert.ok(error instanceof ConflictError, String(error));
        assert.equal(error.message, `Cannot run job "${id}" now: job is ${state}`);
        return true;
      });
    }
    assert.equal(await stateOf(store, "running"), "processing");
    assert.equal((await store.jobGet({ id: "child" }))?.state, "blocked");
    await assertRejects(() => store.jobRunNow({ id: "nope", now: T0 }), NotFoundError);
  });

  test("jobRunNow() wakes watchers of other connections", async (store, db) => {
    await store.jobInsertMany({ jobs: [newJob("later", { run_at: T0 + 3_600_000 })], now: T0 });
    await using other = await db.open();
    using watch = await liveWatch(store, other);
    const seen = watch.calls;
    await other.jobRunNow({ id: "later", now: T0 + 1000 });
    await awaitWake(watch, seen, "jobRunNow by another connection");
  });
}
