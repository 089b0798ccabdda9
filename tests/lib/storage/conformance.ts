/**
 * The storage conformance suite: every guarantee of the {@linkcode Storage}
 * interface, run against any implementation. A driver's test file calls
 * {@linkcode storageConformance} with a factory that makes a fresh, empty
 * database per test; a new storage guarantee extends this suite first
 * (STYLE.md 14).
 *
 * Time is a parameter here: every `now` is a fixed clock. The only waits are
 * for another connection's change to reach a watcher: polled with a
 * deadline, and bounded windows in which nothing may happen.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../../lib/config.ts";
import { ConflictError, NotFoundError, UsageError } from "../../../lib/errors.ts";
import {
  insertedJobs,
  isoTime,
  type Job,
  JOB_STATES,
  type JobState,
  type NewJob,
} from "../../../lib/job.ts";
import type { NewSchedule } from "../../../lib/schedule.ts";
import type {
  ClaimedJob,
  RunFinish,
  ScheduleFire,
  ScheduleFireResult,
  Storage,
  WatchOptions,
} from "../../../lib/storage/storage.ts";
import { JOB_FIELDS, waitFor } from "../../_helpers.ts";

/** Fires one schedule: {@linkcode Storage.scheduleFireMany} of one. */
async function fireOne(
  store: Storage,
  params: ScheduleFire & { now: number },
): Promise<ScheduleFireResult> {
  const { now, ...fire } = params;
  return (await store.scheduleFireMany({ fires: [fire], now }))[0]!;
}

/** A fresh, empty database for one test; each open() is one more connection to it. */
export interface TestDatabase extends AsyncDisposable {
  open(): Promise<Storage>;
}

/** How a store runs the suite. */
export interface ConformanceOptions {
  /** Cases this store cannot run, by title, each with the reason: registered as ignored, with a NOT RUN line. */
  skip?: Record<string, string>;
}

/** A fixed "now" for every test: 2026-01-01T12:00:00.000Z. */
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 0);
const LEASE = 30_000;
const encoder = new TextEncoder();

/** A valid job to insert; due at T0 unless overridden. */
function newJob(id: string, overrides: Partial<NewJob> = {}): NewJob {
  return {
    id,
    command: `echo ${id}`,
    queue: "default",
    priority: 0,
    max_retries: null,
    timeout: null,
    env: null,
    cwd: null,
    run_at: T0,
    after: null,
    key: null,
    retry_on: null,
    ...overrides,
  };
}

/** A valid schedule to insert: every 2 s, next due at T0 unless overridden. */
function newSchedule(name: string, overrides: Partial<NewSchedule> = {}): NewSchedule {
  return {
    name,
    cron: "*/2 * * * * *",
    tz: "UTC",
    catch_up: "one",
    overlap: false,
    job: {
      command: `echo ${name}`,
      queue: "default",
      priority: 0,
      max_retries: null,
      timeout: null,
      env: null,
      cwd: null,
    },
    paused: false,
    next_run_at: T0,
    ...overrides,
  };
}

/** The job a schedule enqueues for one due time: with its key `schedule:<name>` unless `overlap`. */
function scheduledJob(name: string, dueAt: number, overlap = false): NewJob {
  return newJob(`${name}@${isoTime(dueAt)}`, {
    command: `echo ${name}`,
    run_at: dueAt,
    key: overlap ? null : `schedule:${name}`,
  });
}

/** The end of a claimed attempt; a success unless overridden. */
function finishOf(
  job: { id: string; attempt: number },
  workerId: string,
  overrides: Partial<RunFinish> = {},
): RunFinish {
  return {
    id: job.id,
    workerId,
    attempt: job.attempt,
    outcome: "succeeded",
    exitCode: 0,
    signal: null,
    error: null,
    finishedAt: T0 + 1000,
    stdout: null,
    stderr: null,
    state: "completed",
    nextRunAt: null,
    uncountAttempt: false,
    ...overrides,
  };
}

/** A failure that schedules a retry at `nextRunAt`. */
function failure(nextRunAt: number, finishedAt = T0 + 1000): Partial<RunFinish> {
  return {
    outcome: "failed",
    exitCode: 1,
    error: "exit code 1",
    state: "failed",
    nextRunAt,
    finishedAt,
  };
}

/** A failure that moves the job to the DLQ. */
function death(finishedAt = T0 + 1000): Partial<RunFinish> {
  return { outcome: "failed", exitCode: 1, error: "exit code 1", state: "dead", finishedAt };
}

/**
 * Asserts that calling `fn` fails as `check` expects. Synchronous throws are
 * caught too, so each test checks its own guarantee; that failures arrive as
 * rejected promises is checked once, by its own test.
 */
async function assertRejects(
  fn: () => Promise<unknown>,
  check: ((error: unknown) => boolean) | (new (...args: never[]) => Error),
): Promise<void> {
  await assert.rejects(async () => await fn(), check);
}

/** Claims exactly one job and checks it is the one expected. */
async function claimOne(
  store: Storage,
  workerId: string,
  expectedId: string,
  now = T0,
): Promise<ClaimedJob> {
  const claimed = await store.jobClaim({ workerId, queues: null, limit: 1, now, leaseMs: LEASE });
  assert.deepEqual(claimed.map((j) => j.id), [expectedId], "the claim took the expected job");
  return claimed[0]!;
}

/**
 * Inserts one job and drives it into `state` with the store's own methods.
 * Call it before inserting pending jobs that are due, so the claim takes this one.
 */
async function addJobIn(
  store: Storage,
  id: string,
  state: JobState,
  options: { finishedAt?: number; overrides?: Partial<NewJob> } = {},
): Promise<void> {
  const finishedAt = options.finishedAt ?? T0 + 1000;
  await store.jobInsertMany({ jobs: [newJob(id, options.overrides)], now: T0 });
  if (state === "pending") return;
  const claimed = await claimOne(store, "w-setup", id);
  switch (state) {
    case "processing":
      return;
    case "completed":
      await store.runFinishMany({ finishes: [finishOf(claimed, "w-setup", { finishedAt })] });
      return;
    case "failed":
      await store.runFinishMany({
        finishes: [finishOf(claimed, "w-setup", failure(T0 + 3_600_000, finishedAt))],
      });
      return;
    case "dead":
      await store.runFinishMany({
        finishes: [finishOf(claimed, "w-setup", death(finishedAt))],
      });
      return;
    case "cancelled":
      await store.runFinishMany({
        finishes: [finishOf(claimed, "w-setup", {
          outcome: "cancelled",
          exitCode: null,
          signal: "SIGTERM",
          state: "cancelled",
          finishedAt,
        })],
      });
      return;
  }
}

/** Ids of every job (newest first), read page by page. */
async function allIds(store: Storage, state?: JobState): Promise<string[]> {
  return (await store.jobList({ state, limit: 10_000 })).jobs.map((j) => j.id);
}

/** Checks the kept counts against the jobs actually listed, and against `expected`. */
async function assertCounts(
  store: Storage,
  expected: Partial<Record<JobState, number>>,
): Promise<void> {
  const counts = await store.jobCountByState();
  assert.deepEqual(Object.keys(counts).sort(), [...JOB_STATES].sort(), "every state is present");
  const want = Object.fromEntries(JOB_STATES.map((s) => [s, expected[s] ?? 0]));
  assert.deepEqual(counts, want, "counts per state");
  for (const state of JOB_STATES) {
    assert.equal(counts[state], (await allIds(store, state)).length, `count of ${state} jobs`);
  }
}

async function stateOf(store: Storage, id: string): Promise<JobState | undefined> {
  return (await store.jobGet({ id }))?.state;
}

/** A job in a queue of its own (`q-<id>`), so a test can claim exactly it. */
function flowJob(
  id: string,
  after: string[] | null = null,
  overrides: Partial<NewJob> = {},
): NewJob {
  return newJob(id, { queue: `q-${id}`, after, ...overrides });
}

/** Claims job `id` from its own queue at `at` and ends its attempt in `state` then. */
async function endJob(
  store: Storage,
  id: string,
  state: "completed" | "dead" | "cancelled",
  at: number,
): Promise<void> {
  const job = await store.jobGet({ id });
  assert.ok(job, `job "${id}" exists`);
  const claimed = await store.jobClaim({
    workerId: "w-flow",
    queues: [job.queue],
    limit: 1,
    now: at,
    leaseMs: LEASE,
  });
  assert.deepEqual(claimed.map((j) => j.id), [id], `the claim took "${id}"`);
  const overrides: Partial<RunFinish> = state === "completed"
    ? { finishedAt: at }
    : state === "dead"
    ? death(at)
    : {
      outcome: "cancelled",
      exitCode: null,
      signal: "SIGTERM",
      error: "cancelled",
      state: "cancelled",
      finishedAt: at,
    };
  const applied = await store.runFinishMany({
    finishes: [finishOf(claimed[0]!, "w-flow", overrides)],
  });
  assert.deepEqual(applied, [id], `the end of "${id}" applied`);
}

/** The states of `ids`, by id (`undefined` for a missing job). */
async function statesOf(
  store: Storage,
  ids: string[],
): Promise<Record<string, JobState | undefined>> {
  const states: Record<string, JobState | undefined> = {};
  for (const id of ids) states[id] = await stateOf(store, id);
  return states;
}

/** Asserts a ConflictError whose message matches `pattern`. */
function conflict(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ConflictError, `expected a ConflictError, got ${error}`);
    assert.match(error.message, pattern);
    return true;
  };
}

/** How long a watcher must stay silent to count as settled. */
const SETTLE_MS = 100;
/** The longest a committed write may take to reach a watcher. */
const WAKE_DEADLINE_MS = 5000;
/** How long each quiet write gets to (wrongly) wake a watcher. */
const QUIET_WINDOW_MS = 300;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A watch on one store that counts its calls. */
interface ChangeCounter extends Disposable {
  readonly calls: number;
  close(): void;
}

function countChanges(store: Storage, options?: WatchOptions): ChangeCounter {
  let calls = 0;
  const watch = store.watchChanges(() => calls++, options);
  return {
    get calls() {
      return calls;
    },
    close: () => watch.close(),
    [Symbol.dispose]: () => watch.close(),
  };
}

/**
 * Waits until `counter` has not moved for `quietMs`, and returns its count.
 * A store may call back more than once for one write, or once right after
 * subscribing (PostgreSQL re-reads on every LISTEN).
 */
async function settle(counter: ChangeCounter, quietMs = SETTLE_MS): Promise<number> {
  const deadline = Date.now() + WAKE_DEADLINE_MS;
  let last = counter.calls;
  let quietSince = Date.now();
  for (;;) {
    await delay(10);
    if (counter.calls !== last) {
      last = counter.calls;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) {
      return last;
    }
    if (Date.now() > deadline) throw new Error("The watcher never settled: it keeps calling back");
  }
}

/** Waits until `counter` moves past `baseline`, then until it settles; returns the new count. */
async function awaitWake(counter: ChangeCounter, baseline: number, what: string): Promise<number> {
  await waitFor(() => counter.calls > baseline, {
    timeoutMs: WAKE_DEADLINE_MS,
    intervalMs: 10,
    message: `the watcher to hear ${what}`,
  });
  return await settle(counter);
}

/**
 * Starts a watch on `store` and returns it once it is live and quiet: a
 * write committed by `other` reached it, then nothing more for a moment.
 */
async function liveWatch(
  store: Storage,
  other: Storage,
  options?: WatchOptions,
): Promise<ChangeCounter> {
  const counter = countChanges(store, options);
  try {
    await other.configSet({ key: "max_retries", value: defaultConfig().max_retries });
    await awaitWake(counter, 0, "a first write (configSet) by another connection");
    return counter;
  } catch (error) {
    counter.close();
    throw error;
  }
}

/**
 * Registers the conformance tests for the databases `factory` makes (each
 * empty and new). Each test gets one connection, closed at its end, and the
 * database to open more.
 */
export function storageConformance(
  name: string,
  factory: () => Promise<TestDatabase>,
  options: ConformanceOptions = {},
): void {
  const skip = options.skip ?? {};
  const titles = new Set<string>();
  const test = (
    title: string,
    fn: (store: Storage, db: TestDatabase) => void | Promise<void>,
  ) => {
    assert.ok(!titles.has(title), `two cases are titled "${title}"`);
    titles.add(title);
    const run = async () => {
      await using db = await factory();
      await using store = await db.open();
      await fn(store, db);
    };
    // A skipped case is registered ignored (counted as such, never as passed) with its reason.
    const skipped = Object.hasOwn(skip, title);
    if (skipped) console.log(`NOT RUN: ${name}: ${title}: ${skip[title]}`);
    Deno.test({ name: `${name}: ${title}`, ignore: skipped, fn: run });
  };

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

  // --- the async contract ---

  test("every failure arrives as a rejected promise, never as a synchronous throw", async (store) => {
    await addJobIn(store, "c1", "completed");
    const failing: [string, () => Promise<unknown>][] = [
      ["jobInsertMany", () => store.jobInsertMany({ jobs: [newJob("c1")], now: T0 })],
      [
        "jobInsertMany (after)",
        () => store.jobInsertMany({ jobs: [newJob("n1", { after: ["ghost"] })], now: T0 }),
      ],
      [
        "jobInsertMany (key)",
        () =>
          store.jobInsertMany({
            jobs: [newJob("n2", { key: "k" }), newJob("n3", { key: "k" })],
            now: T0,
            onConflict: "fail",
          }),
      ],
      ["jobRetry", () => store.jobRetry({ ids: ["ghost"], now: T0 })],
      ["jobCancel", () => store.jobCancel({ ids: ["c1"], now: T0 })],
    ];
    for (const [method, call] of failing) {
      let promise: Promise<unknown>;
      try {
        promise = call();
      } catch (error) {
        assert.fail(`${method}() threw synchronously instead of rejecting: ${error}`);
      }
      await assert.rejects(promise, Error, `${method}() rejects`);
    }
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
          attempt: a.attempt,
          stdout: encoder.encode("a out\n"),
          stderr: encoder.encode(""),
        },
        {
          id: "b",
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

  // --- jobListStranded ---

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

  // --- workers ---

  test("workerHeartbeat() renews the leases of the worker's jobs", async (store) => {
    await store.workerRegister({ id: "w1", pid: 1, host: "h", count: 2, queues: null, now: T0 });
    await store.jobInsertMany({ jobs: [newJob("mine")], now: T0 });
    await claimOne(store, "w1", "mine");
    await store.jobInsertMany({ jobs: [newJob("theirs")], now: T0 });
    await claimOne(store, "w2", "theirs");
    const reply = await store.workerHeartbeat({ id: "w1", now: T0 + 20_000, leaseMs: LEASE });
    assert.deepEqual(reply, { stopRequested: null, cancelRequested: [] });
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

  // --- config ---

  test("configGetAll() gives the defaults on a new store", async (store) => {
    assert.deepEqual(await store.configGetAll(), defaultConfig());
  });

  test("configSet() stores a setting and leaves the others at their defaults", async (store) => {
    await store.configSet({ key: "max_retries", value: 5 });
    await store.configSet({ key: "backoff_base", value: 1.5 });
    await store.configSet({ key: "max_retries", value: 0 });
    assert.deepEqual(await store.configGetAll(), {
      ...defaultConfig(),
      max_retries: 0,
      backoff_base: 1.5,
    });
  });

  // --- jobNextRetryAt, runFinishedCounts, runTotals ---

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

  // --- location, now ---

  test("location says where the data lives, without a password", (store) => {
    assert.equal(typeof store.location, "string");
    assert.ok(store.location.length > 0);
    if (URL.canParse(store.location)) {
      assert.equal(new URL(store.location).password, "", `a password in "${store.location}"`);
    }
    assert.doesNotMatch(store.location, /password=/i);
  });

  test(
    "now() is the store's clock, close to this machine's, on every connection",
    async (store, db) => {
      await using other = await db.open();
      for (const connection of [store, other]) {
        const before = Date.now();
        const now = connection.now();
        const after = Date.now();
        assert.ok(Number.isSafeInteger(now), `now() is whole milliseconds: ${now}`);
        assert.ok(
          now >= before - 5000 && now <= after + 5000,
          `now() is ${now - before} ms off the local clock`,
        );
      }
    },
  );

  // --- several connections to one database ---

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

  // --- watchChanges ---

  test("watchChanges() hears every kind of write another connection commits", async (store, db) => {
    await using other = await db.open();
    await addJobIn(other, "dead", "dead");
    await other.jobInsertMany({
      jobs: [newJob("to-cancel", { run_at: T0 + 3_600_000 }), newJob("fails"), newJob("forced")],
      now: T0,
    });
    const claimed = await other.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 2,
      now: T0,
      leaseMs: LEASE,
    });
    const byId = Object.fromEntries(claimed.map((j) => [j.id, j]));
    await other.workerRegister({ id: "w1", pid: 1, host: "h", count: 2, queues: null, now: T0 });

    using watch = await liveWatch(store, other);
    let seen = watch.calls;
    const writes: [string, () => Promise<unknown>][] = [
      ["jobInsertMany", () => other.jobInsertMany({ jobs: [newJob("new")], now: T0 })],
      ["jobCancel", () => other.jobCancel({ ids: ["to-cancel"], now: T0 })],
      ["jobRetry", () => other.jobRetry({ ids: ["dead"], now: T0 })],
      ["configSet", () => other.configSet({ key: "backoff_base", value: 3 })],
      ["workerRequestStop", () => other.workerRequestStop({ ids: ["w1"], mode: "graceful" })],
      [
        "runFinishMany into failed",
        () => other.runFinishMany({ finishes: [finishOf(byId.fails!, "w1", failure(T0 + 5000))] }),
      ],
      [
        "runFinishMany into pending",
        () =>
          other.runFinishMany({
            finishes: [finishOf(byId.forced!, "w1", {
              outcome: "interrupted",
              exitCode: null,
              signal: "SIGKILL",
              state: "pending",
              nextRunAt: T0,
              uncountAttempt: true,
            })],
          }),
      ],
    ];
    for (const [what, write] of writes) {
      await write();
      seen = await awaitWake(watch, seen, `${what} by another connection`);
    }
    await assertCounts(store, { pending: 3, failed: 1, cancelled: 1 });
  });

  test(
    "watchChanges() stays quiet for claims, heartbeats, process details and output",
    async (store, db) => {
      await using other = await db.open();
      await other.workerRegister({ id: "w1", pid: 1, host: "h", count: 2, queues: null, now: T0 });
      await other.jobInsertMany({ jobs: [newJob("a"), newJob("b")], now: T0 });

      using watch = await liveWatch(store, other);
      const seen = watch.calls;
      let claimed: ClaimedJob[] = [];
      const start = (job: ClaimedJob, host: string) => ({
        id: job.id,
        workerId: "w1",
        attempt: job.attempt,
        host,
        pgid: 100,
        procStart: "1",
      });
      const output = (job: ClaimedJob, text: string) => ({
        id: job.id,
        attempt: job.attempt,
        stdout: encoder.encode(text),
        stderr: encoder.encode(""),
      });
      const quietWrites: [string, () => Promise<unknown>][] = [
        ["jobClaim", async () => {
          claimed = await other.jobClaim({
            workerId: "w1",
            queues: null,
            limit: 2,
            now: T0,
            leaseMs: LEASE,
          });
          assert.equal(claimed.length, 2);
        }],
        ["workerHeartbeat", () => other.workerHeartbeat({ id: "w1", now: T0 + 1, leaseMs: LEASE })],
        ["runStartMany", () => other.runStartMany({ starts: claimed.map((j) => start(j, "h1")) })],
        [
          "runOutputUpdateMany",
          () => other.runOutputUpdateMany({ updates: claimed.map((j) => output(j, "one\n")) }),
        ],
        [
          "runRecordMany with starts and outputs only",
          () =>
            other.runRecordMany({
              starts: claimed.map((j) => start(j, "h2")),
              outputs: claimed.map((j) => output(j, "one\ntwo\n")),
              finishes: [],
            }),
        ],
      ];
      for (const [what, write] of quietWrites) {
        await write();
        await delay(QUIET_WINDOW_MS);
        assert.equal(watch.calls, seen, `${what} by another connection woke the watcher`);
      }
      assert.equal((await store.runOutputGet({ id: "a" }))?.stdout, "one\ntwo\n", "they applied");
      // The watch still hears a write that is not quiet: a finish into a
      // retry (a completion need not wake anyone, and on PostgreSQL does not).
      await other.runFinishMany({
        finishes: claimed.map((j) => finishOf(j, "w1", failure(T0 + 5000))),
      });
      await awaitWake(watch, seen, "runFinishMany after the quiet writes");
    },
  );

  test(
    "watchChanges() hears job ends only with jobEnds; a completion that unblocks wakes everyone",
    async (store, db) => {
      await using other = await db.open();
      await other.jobInsertMany({
        jobs: [newJob("done"), newJob("parent"), newJob("child", { after: ["parent"] })],
        now: T0,
      });
      const done = await claimOne(other, "w1", "done");
      const parent = await claimOne(other, "w1", "parent");
      using plain = await liveWatch(store, other);
      using ends = await liveWatch(store, other, { jobEnds: true });
      const plainSeen = await settle(plain);
      const endsSeen = await settle(ends);

      // A drain's finish: news to waiters and live views, not to idle workers.
      await other.runRecordMany({ starts: [], outputs: [], finishes: [finishOf(done, "w1")] });
      const endsNow = await awaitWake(ends, endsSeen, "a completion (with jobEnds)");
      assert.equal(plain.calls, plainSeen, "a plain watch heard a completion");

      // A completion that unblocks a dependent made a job claimable.
      await other.runFinishMany({ finishes: [finishOf(parent, "w1")] });
      await awaitWake(plain, plainSeen, "a completion that unblocked a dependent");
      await awaitWake(ends, endsNow, "a completion that unblocked a dependent (with jobEnds)");
      assert.equal(await stateOf(store, "child"), "pending");
    },
  );

  test("watchChanges() stops calling back once its watch is closed", async (store, db) => {
    await using other = await db.open();
    using control = await liveWatch(store, other);
    const closed = await liveWatch(store, other);
    const seen = await settle(control);
    closed.close();
    const before = closed.calls;
    await other.jobInsertMany({ jobs: [newJob("after-close")], now: T0 });
    await awaitWake(control, seen, "jobInsertMany by another connection");
    assert.equal(closed.calls, before, "a closed watch was called");
    closed.close(); // closing twice is harmless
  });

  test("close() ends the store's watches", async (store, db) => {
    // Deno's sanitizers do not see a file watcher or a listening connection
    // left open, so this checks what a leak does: a closed store calls back.
    await using other = await db.open();
    const closing = await db.open();
    let closed = false;
    let closingCalls = 0;
    const watch = closing.watchChanges(() => closingCalls++);
    try {
      using control = await liveWatch(store, other);
      await waitFor(() => closingCalls > 0, {
        timeoutMs: WAKE_DEADLINE_MS,
        intervalMs: 10,
        message: "the watch on the store to close to hear a write",
      });
      const seen = await settle(control);
      closed = true;
      await closing.close();
      const before = closingCalls;
      await other.jobInsertMany({ jobs: [newJob("after-close")], now: T0 });
      await awaitWake(control, seen, "jobInsertMany by another connection");
      assert.equal(closingCalls, before, "a watch of a store closed without closing it was called");
    } finally {
      watch.close(); // harmless after close(); ends a leaked watch when the check failed
      if (!closed) await closing.close();
    }
  });

  // --- schedules ---

  test("scheduleInsert() stores every field; scheduleGet() and scheduleList() read them", async (store) => {
    const job = {
      command: "backup.sh 'My Documents'",
      queue: "nightly",
      priority: 5,
      max_retries: 2,
      timeout: 30.5,
      env: { A: "1" },
      cwd: "/tmp",
    };
    const stored = await store.scheduleInsert({
      schedule: newSchedule("b-nightly", {
        cron: "0 3 * * *",
        tz: "Europe/Berlin",
        catch_up: "all",
        overlap: true,
        job,
        next_run_at: T0 + 60_000,
      }),
      now: T0,
    });
    const expected = {
      name: "b-nightly",
      cron: "0 3 * * *",
      tz: "Europe/Berlin",
      catch_up: "all",
      overlap: true,
      job,
      paused: false,
      next_run_at: T0 + 60_000,
      last_run_at: null,
      last_job_id: null,
      skipped: 0,
      missed: 0,
      created_at: T0,
    };
    assert.deepEqual(stored, expected);
    assert.deepEqual(await store.scheduleGet({ name: "b-nightly" }), expected);
    assert.equal(await store.scheduleGet({ name: "nope" }), null);
    await store.scheduleInsert({ schedule: newSchedule("a-first"), now: T0 });
    assert.deepEqual((await store.scheduleList()).map((s) => s.name), ["a-first", "b-nightly"]);
  });

  test("scheduleInsert() of a name in use is a ConflictError and changes nothing", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick"), now: T0 });
    await assertRejects(
      () => store.scheduleInsert({ schedule: newSchedule("tick", { cron: "@daily" }), now: T0 }),
      (error) => error instanceof ConflictError && /"tick".*in use/.test(error.message),
    );
    assert.equal((await store.scheduleGet({ name: "tick" }))!.cron, "*/2 * * * * *");
  });

  test("scheduleDelete() removes a schedule; an unknown name is a NotFoundError", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick"), now: T0 });
    await store.scheduleDelete({ name: "tick" });
    assert.equal(await store.scheduleGet({ name: "tick" }), null);
    await assertRejects(
      () => store.scheduleDelete({ name: "tick" }),
      (error) => error instanceof NotFoundError && /Schedule "tick" not found/.test(error.message),
    );
  });

  test("scheduleSetPaused() pauses and resumes; paused schedules are never due", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("a", { next_run_at: T0 }), now: T0 });
    await store.scheduleInsert({ schedule: newSchedule("b", { next_run_at: T0 + 4000 }), now: T0 });
    assert.equal(await store.scheduleNextDueAt(), T0);
    const paused = await store.scheduleSetPaused({ name: "a", paused: true });
    assert.equal(paused.paused, true);
    assert.equal(paused.next_run_at, T0, "pausing keeps the next time");
    assert.equal(await store.scheduleNextDueAt(), T0 + 4000);
    assert.deepEqual(
      (await store.scheduleListDue({ now: T0 + 10_000, limit: 10 })).map((s) => s.name),
      ["b"],
    );
    const fired = await fireOne(store, {
      name: "a",
      expectedNextRunAt: T0,
      nextRunAt: T0 + 2000,
      jobs: [scheduledJob("a", T0)],
      missed: 0,
      now: T0,
    });
    assert.deepEqual(
      fired,
      { fired: false, inserted: [], skipped: [] },
      "a paused one never fires",
    );
    const resumed = await store.scheduleSetPaused({
      name: "a",
      paused: false,
      nextRunAt: T0 + 6000,
    });
    assert.equal(resumed.paused, false);
    assert.equal(resumed.next_run_at, T0 + 6000);
    assert.deepEqual(
      (await store.scheduleListDue({ now: T0 + 10_000, limit: 10 })).map((s) => s.name),
      ["b", "a"],
      "due ones come earliest first",
    );
    assert.deepEqual(
      (await store.scheduleListDue({ now: T0 + 10_000, limit: 1 })).map((s) => s.name),
      ["b"],
    );
    assert.deepEqual(await store.scheduleListDue({ now: T0 + 3999, limit: 10 }), []);
    await assertRejects(
      () => store.scheduleSetPaused({ name: "nope", paused: true }),
      NotFoundError,
    );
    assert.equal(await store.jobGet({ id: `a@${isoTime(T0)}` }), null);
  });

  test("scheduleNextDueAt() is null without schedules", async (store) => {
    assert.equal(await store.scheduleNextDueAt(), null);
  });

  test(
    "scheduleFireMany() of one schedule advances the next time and inserts the job in one step, once per due time",
    async (store, db) => {
      await store.scheduleInsert({ schedule: newSchedule("tick"), now: T0 });
      await using other = await db.open();
      // Every connection read the same due time and fires it at once: one wins.
      const stores = [store, other, store, other];
      const results = await Promise.all(stores.map((s) =>
        fireOne(s, {
          name: "tick",
          expectedNextRunAt: T0,
          nextRunAt: T0 + 2000,
          jobs: [scheduledJob("tick", T0)],
          missed: 0,
          now: T0 + 10,
        })
      ));
      assert.equal(results.filter((r) => r.fired).length, 1, "exactly one call fired");
      assert.deepEqual(results.find((r) => r.fired)!.inserted, [`tick@${isoTime(T0)}`]);
      for (const r of results.filter((r) => !r.fired)) assert.deepEqual(r.inserted, []);
      const schedule = (await store.scheduleGet({ name: "tick" }))!;
      assert.equal(schedule.next_run_at, T0 + 2000);
      assert.equal(schedule.last_run_at, T0);
      assert.equal(schedule.last_job_id, `tick@${isoTime(T0)}`);
      const job = (await store.jobGet({ id: `tick@${isoTime(T0)}` }))!;
      assert.equal(job.state, "pending");
      assert.equal(job.next_run_at, isoTime(T0));
      assert.equal(job.command, "echo tick");
      assert.equal((await store.jobCountByState()).pending, 1);
      // A stale expectation (a firer that read the old time late) does nothing.
      const stale = await fireOne(store, {
        name: "tick",
        expectedNextRunAt: T0,
        nextRunAt: T0 + 2000,
        jobs: [scheduledJob("tick", T0)],
        missed: 0,
        now: T0 + 20,
      });
      assert.equal(stale.fired, false);
      assert.equal((await store.jobCountByState()).pending, 1);
    },
  );

  test("scheduleFireMany() of one schedule skips a job whose key the previous job holds while active, and counts it", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick"), now: T0 });
    const fire = (due: number, now = due) =>
      fireOne(store, {
        name: "tick",
        expectedNextRunAt: due,
        nextRunAt: due + 2000,
        jobs: [scheduledJob("tick", due)],
        missed: 0,
        now,
      });
    assert.equal((await fire(T0)).inserted.length, 1);
    const first = `tick@${isoTime(T0)}`;
    // pending, then processing: both skip the next due times
    assert.deepEqual(await fire(T0 + 2000), {
      fired: true,
      inserted: [],
      skipped: [`tick@${isoTime(T0 + 2000)}`],
    });
    const claimed = await claimOne(store, "w1", first, T0 + 2500);
    assert.equal((await fire(T0 + 4000)).skipped.length, 1);
    let schedule = (await store.scheduleGet({ name: "tick" }))!;
    assert.equal(schedule.skipped, 2);
    assert.equal(schedule.next_run_at, T0 + 6000, "a skipped time still moves the schedule on");
    assert.equal(schedule.last_job_id, first);
    assert.equal(schedule.last_run_at, T0);
    await store.runFinishMany({ finishes: [finishOf(claimed, "w1")] });
    assert.deepEqual((await fire(T0 + 6000)).inserted, [`tick@${isoTime(T0 + 6000)}`]);
    schedule = (await store.scheduleGet({ name: "tick" }))!;
    assert.equal(schedule.skipped, 2);
    assert.equal(schedule.last_run_at, T0 + 6000);
    assert.equal((await store.jobCountByState()).pending, 1);
  });

  test(
    "scheduleFireMany() fires many schedules in one call, each due time once, in any order from many connections",
    async (store, db) => {
      const names = ["a", "b", "c", "d", "e"];
      for (const name of names) {
        await store.scheduleInsert({ schedule: newSchedule(name), now: T0 });
      }
      await store.scheduleSetPaused({ name: "e", paused: true });
      await using other = await db.open();
      const fires = (order: string[]) =>
        order.map((name) => ({
          name,
          expectedNextRunAt: T0,
          nextRunAt: T0 + 2000,
          jobs: [scheduledJob(name, T0)],
          missed: 0,
        }));
      // Two connections, opposite orders, at once: no deadlock, and each due time fires once.
      const [forward, backward] = await Promise.all([
        store.scheduleFireMany({ fires: fires(names), now: T0 }),
        other.scheduleFireMany({ fires: fires([...names].reverse()), now: T0 }),
      ]);
      assert.equal(forward.length, 5);
      assert.equal(backward.length, 5);
      for (const [i, name] of names.entries()) {
        const mine = forward[i]!;
        const theirs = backward[names.length - 1 - i]!;
        if (name === "e") {
          assert.ok(!mine.fired && !theirs.fired, "a paused schedule never fires");
          continue;
        }
        assert.equal(Number(mine.fired) + Number(theirs.fired), 1, `${name} fired once`);
        assert.deepEqual((mine.fired ? mine : theirs).inserted, [`${name}@${isoTime(T0)}`]);
      }
      assert.equal((await store.jobCountByState()).pending, 4);
      assert.deepEqual(await store.scheduleFireMany({ fires: [], now: T0 }), []);
    },
  );

  test("scheduleFireMany() of one schedule skips while any active job holds the key, one enqueued by hand too", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick"), now: T0 });
    await store.jobInsertMany({ jobs: [newJob("manual", { key: "schedule:tick" })], now: T0 });
    const result = await fireOne(store, {
      name: "tick",
      expectedNextRunAt: T0,
      nextRunAt: T0 + 2000,
      jobs: [scheduledJob("tick", T0)],
      missed: 0,
      now: T0,
    });
    assert.deepEqual(result, { fired: true, inserted: [], skipped: [`tick@${isoTime(T0)}`] });
    await store.jobCancel({ ids: ["manual"], now: T0 + 1 });
    const next = await fireOne(store, {
      name: "tick",
      expectedNextRunAt: T0 + 2000,
      nextRunAt: T0 + 4000,
      jobs: [scheduledJob("tick", T0 + 2000)],
      missed: 0,
      now: T0 + 2000,
    });
    assert.deepEqual(next.inserted, [`tick@${isoTime(T0 + 2000)}`], "the key is free once final");
    assert.equal((await store.jobGet({ id: next.inserted[0]! }))!.key, "schedule:tick");
  });

  test("scheduleFireMany() of one schedule of jobs without a key (overlap) enqueues while the previous job is active", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick", { overlap: true }), now: T0 });
    for (const due of [T0, T0 + 2000]) {
      const result = await fireOne(store, {
        name: "tick",
        expectedNextRunAt: due,
        nextRunAt: due + 2000,
        jobs: [scheduledJob("tick", due, true)],
        missed: 0,
        now: due,
      });
      assert.equal(result.inserted.length, 1);
    }
    assert.equal((await store.jobCountByState()).pending, 2);
    assert.equal((await store.scheduleGet({ name: "tick" }))!.skipped, 0);
  });

  test("scheduleFireMany() of one schedule of catch-up jobs inserts each and adds the missed count", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick", { overlap: true }), now: T0 });
    const result = await fireOne(store, {
      name: "tick",
      expectedNextRunAt: T0,
      nextRunAt: T0 + 10_000,
      jobs: [scheduledJob("tick", T0 + 4000, true), scheduledJob("tick", T0 + 8000, true)],
      missed: 3,
      now: T0 + 9000,
    });
    assert.equal(result.inserted.length, 2);
    const schedule = (await store.scheduleGet({ name: "tick" }))!;
    assert.equal(schedule.missed, 3);
    assert.equal(schedule.last_run_at, T0 + 8000);
    assert.equal(schedule.last_job_id, `tick@${isoTime(T0 + 8000)}`);
  });

  test("scheduleFireMany() of one schedule for a run now leaves the next time alone and counts no skip", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick", { paused: true }), now: T0 });
    const now = T0 + 123;
    const run = await fireOne(store, {
      name: "tick",
      expectedNextRunAt: null,
      nextRunAt: null,
      jobs: [scheduledJob("tick", now)],
      missed: 0,
      now,
    });
    assert.deepEqual(run, { fired: true, inserted: [`tick@${isoTime(now)}`], skipped: [] });
    const again = await fireOne(store, {
      name: "tick",
      expectedNextRunAt: null,
      nextRunAt: null,
      jobs: [scheduledJob("tick", now + 1)],
      missed: 0,
      now: now + 1,
    });
    assert.deepEqual(again.skipped, [`tick@${isoTime(now + 1)}`], "the first is still active");
    const schedule = (await store.scheduleGet({ name: "tick" }))!;
    assert.equal(schedule.next_run_at, T0);
    assert.equal(schedule.skipped, 0);
    assert.equal(schedule.last_job_id, `tick@${isoTime(now)}`);
    await assertRejects(
      () =>
        fireOne(store, {
          name: "nope",
          expectedNextRunAt: null,
          nextRunAt: null,
          jobs: [scheduledJob("nope", now)],
          missed: 0,
          now,
        }),
      NotFoundError,
    );
  });

  // --- job flow: dependencies (SPEC 12) ---

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

  // --- storeSize, storeVacuum, storeBackup ---

  test("storeVacuum() reports sizes before and after; storeSize() is positive", async (store) => {
    await store.jobInsertMany({
      jobs: Array.from({ length: 200 }, (_, i) => newJob(`v${i}`, { command: "x".repeat(500) })),
      now: T0,
    });
    assert.ok((await store.storeSize()) > 0);
    await store.jobPrune({ before: {} });
    const { before, after } = await store.storeVacuum();
    assert.ok(before > 0 && after > 0, `sizes ${before} and ${after}`);
    assert.equal((await allIds(store)).length, 200, "nothing lost");
  });

  test("storeBackup() refuses an existing file as bad input", async (store) => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/taken.db`, "keep me");
      await assertRejects(() => store.storeBackup({ path: `${dir}/taken.db` }), UsageError);
      assert.equal(await Deno.readTextFile(`${dir}/taken.db`), "keep me", "left as it was");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  const unknown = Object.keys(skip).filter((title) => !titles.has(title));
  if (unknown.length > 0) {
    Deno.test(`${name}: every skipped case exists`, () => {
      assert.fail(`No case is titled ${unknown.map((t) => `"${t}"`).join(", ")}`);
    });
  }
}
