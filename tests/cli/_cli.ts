/**
 * Fixtures of the CLI suites: a database seeded with jobs in every state
 * (written with the store itself, so no worker is needed), a snapshot of
 * everything in it to prove that a refused command changed nothing, and the
 * check that an error is the one line README "Commands" promises.
 */
import assert from "node:assert/strict";
import type { JobState, NewJob } from "../../lib/job.ts";
import { openStorage } from "../../lib/storage/open_storage.ts";
import type { RunFinish, Storage } from "../../lib/storage/storage.ts";
import {
  type CliResult,
  JOB_FIELDS,
  RUN_FIELDS,
  runCli,
  type StoreKind,
  storeTest,
  withTempDb,
} from "../_helpers.ts";

export { JOB_FIELDS, RUN_FIELDS };

/** ISO-8601 UTC with milliseconds, as README "Jobs" fixes. */
export const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Opens the database at `db` (a path or a PostgreSQL URL) in this process for `fn`, closing it after. */
export async function withStore<T>(db: string, fn: (store: Storage) => Promise<T>): Promise<T> {
  await using store = await openStorage(db);
  return await fn(store);
}

/** What a seeded job should become, and what its attempt printed. */
export interface JobSpec {
  id: string;
  state: JobState;
  command?: string;
  queue?: string;
  priority?: number;
  maxRetries?: number;
  stdout?: string;
  stderr?: string;
  /** When the job was created (and its attempt ran); defaults to a minute ago. */
  at?: number;
  /** Its dependencies: with one not completed, give state `blocked`. */
  after?: string[];
  key?: string;
  retryOn?: (number | "timeout")[];
}

function newJob(spec: JobSpec, at: number): NewJob {
  return {
    id: spec.id,
    command: spec.command ?? `echo ${spec.id}`,
    queue: spec.queue ?? "default",
    priority: spec.priority ?? 0,
    max_retries: spec.maxRetries ?? null,
    timeout: null,
    env: null,
    cwd: null,
    run_at: at,
    after: spec.after ?? null,
    key: spec.key ?? null,
    retry_on: spec.retryOn ?? null,
  };
}

/**
 * Adds a job and drives it into its state with the store's own claim and
 * finish, as a worker would. Add jobs meant to stay pending last.
 */
export async function addJob(store: Storage, spec: JobSpec): Promise<void> {
  const at = spec.at ?? Date.now() - 60_000;
  const result = await store.jobInsertMany({ jobs: [newJob(spec, at)], now: at });
  assert.equal(result.inserted, 1, `seeding inserted ${spec.id}`);
  assert.equal(result.blocked.includes(spec.id), spec.state === "blocked", `seeding ${spec.id}`);
  if (spec.state === "pending" || spec.state === "blocked") return;
  const claimed = await store.jobClaim({
    workerId: "test-worker",
    queues: null,
    limit: 1,
    now: at,
    leaseMs: 3_600_000,
  });
  assert.deepEqual(claimed.map((j) => j.id), [spec.id], `seeding claimed ${spec.id}`);
  if (spec.state === "processing") return;
  if (spec.state === "cancelled") {
    await store.jobCancel({ ids: [spec.id], now: at });
  }
  const failed = spec.state === "failed" || spec.state === "dead";
  const finish: RunFinish = {
    id: spec.id,
    workerId: "test-worker",
    attempt: claimed[0]!.attempt,
    outcome: failed ? "failed" : spec.state === "cancelled" ? "cancelled" : "succeeded",
    exitCode: failed ? 1 : spec.state === "cancelled" ? null : 0,
    signal: spec.state === "cancelled" ? "SIGTERM" : null,
    error: failed ? "exit code 1" : null,
    finishedAt: at + 1500,
    stdout: new TextEncoder().encode(spec.stdout ?? ""),
    stderr: new TextEncoder().encode(spec.stderr ?? ""),
    state: spec.state as RunFinish["state"],
    // A failed job's retry is an hour away, so nothing here makes it due.
    nextRunAt: spec.state === "failed" ? at + 3_600_000 : null,
    uncountAttempt: false,
  };
  const applied = await store.runFinishMany({ finishes: [finish] });
  assert.deepEqual(applied, [spec.id], `seeding finished ${spec.id}`);
}

/** Adds jobs in order (see {@linkcode addJob}). */
export async function addJobs(db: string, specs: JobSpec[]): Promise<void> {
  await withStore(db, async (store) => {
    for (const spec of specs) await addJob(store, spec);
  });
}

/** Everything a command could change: every job with its runs and output, counts, settings, workers. */
export async function snapshot(db: string): Promise<unknown> {
  return await withStore(db, async (store) => {
    const { jobs } = await store.jobList({ limit: 1_000_000 });
    const full = [];
    for (const job of jobs) {
      full.push({
        ...(await store.jobGetWithRuns({ id: job.id })),
        output: await store.runOutputGet({ id: job.id }),
      });
    }
    return {
      jobs: full,
      counts: await store.jobCountByState(),
      config: await store.configGetAll(),
      workers: await store.workerListAll(),
    };
  });
}

/** The jobs every refusal test starts from: one in each state, and a changed setting. */
export const SEED: JobSpec[] = [
  { id: "f1", state: "failed", stdout: "f1 out\n" },
  { id: "d1", state: "dead", stderr: "d1 err\n" },
  { id: "c1", state: "completed", stdout: "c1 out\n" },
  { id: "x1", state: "cancelled" },
  { id: "r1", state: "processing" },
  { id: "p1", state: "pending", queue: "q1", priority: 3 },
  { id: "p2", state: "pending" },
];

/**
 * A temporary database (of `kind`) holding {@linkcode SEED} and then
 * `extra`; checks on demand that nothing changed since.
 */
export async function seededDb(kind: StoreKind = "sqlite", extra: JobSpec[] = []): Promise<
  { db: string; dir: string; assertUnchanged(): Promise<void> } & AsyncDisposable
> {
  const tmp = await withTempDb(kind);
  await addJobs(tmp.db, [...SEED, ...extra]);
  await withStore(tmp.db, (store) => store.configSet({ key: "max_retries", value: 5 }));
  const before = await snapshot(tmp.db);
  return {
    db: tmp.db,
    dir: tmp.dir,
    async assertUnchanged() {
      assert.deepEqual(await snapshot(tmp.db), before, "the database is unchanged");
    },
    [Symbol.asyncDispose]: () => tmp[Symbol.asyncDispose](),
  };
}

/**
 * Asserts the error contract: the exit code, nothing on stdout, and exactly
 * one line on stderr starting with `error: `, no stack trace, matching every pattern.
 */
export function assertOneLineError(result: CliResult, code: 1 | 2, ...patterns: RegExp[]): void {
  const context = `stdout: ${JSON.stringify(result.stdout)}\nstderr: ${
    JSON.stringify(result.stderr)
  }`;
  assert.equal(result.code, code, `exit code\n${context}`);
  assert.equal(result.stdout, "", `nothing on stdout\n${context}`);
  assert.ok(result.stderr.endsWith("\n"), `stderr ends its line\n${context}`);
  const lines = result.stderr.slice(0, -1).split("\n");
  assert.equal(lines.length, 1, `exactly one line on stderr\n${context}`);
  const line = lines[0]!;
  assert.ok(line.startsWith("error: "), `the line starts with "error: "\n${context}`);
  assert.ok(line.length > "error: ".length + 5, `the line says what is wrong\n${context}`);
  assert.doesNotMatch(line, /\bat .*:\d+:\d+|\.ts:\d+/, `no stack trace\n${context}`);
  assert.doesNotMatch(line, /this is a bug/, `an expected error, not a crash\n${context}`);
  for (const pattern of patterns) assert.match(line, pattern, context);
}

/** Asserts a successful run and returns its stdout. */
export function assertOk(result: CliResult): string {
  assert.equal(
    result.code,
    0,
    `exit code 0\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
  );
  return result.stdout;
}

/** A command that must be refused: see {@linkcode registerRefusals}. */
export interface Refusal {
  /** The test's name, a sentence. */
  name: string;
  args: string[];
  code: 1 | 2;
  /** What the one error line must say. */
  says: RegExp[];
  stdin?: string;
  /** Lines of an NDJSON file passed as `--file <path>` (the path is appended to args). */
  file?: string;
  /** Jobs added after {@linkcode SEED}. */
  seed?: JobSpec[];
  /** Run on every store (`storeTest`): for refusals the store itself decides. */
  everyStore?: boolean;
  /** More environment for the command (e.g. a job's `QUEUECTL_JOB_ID`). */
  env?: Record<string, string>;
}

/**
 * Registers one test per refusal: on a seeded database the command exits
 * with its code and one `error: ` line saying what it must, and the
 * database is left exactly as it was.
 */
export function registerRefusals(refusals: Refusal[]): void {
  for (const refusal of refusals) {
    const test = async (kind: StoreKind) => {
      await using env = await seededDb(kind, refusal.seed);
      const args = [...refusal.args];
      if (refusal.file !== undefined) {
        const path = `${env.dir}/jobs.ndjson`;
        await Deno.writeTextFile(path, refusal.file);
        args.push(path);
      }
      const options = refusal.stdin === undefined
        ? { db: env.db, env: refusal.env ?? {} }
        : { db: env.db, stdin: refusal.stdin, env: refusal.env ?? {} };
      const result = await runCli(args, options);
      assertOneLineError(result, refusal.code, ...refusal.says);
      await env.assertUnchanged();
    };
    if (refusal.everyStore) storeTest(refusal.name, (tmp) => test(tmp.kind));
    else Deno.test(refusal.name, () => test("sqlite"));
  }
}
