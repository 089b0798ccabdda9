/**
 * The storage interface: everything the CLI, the workers and the dashboard
 * know about persistence. SQL and drivers live only in its implementations
 * (`sqlite/` and `postgres/`, which run one conformance suite,
 * `tests/lib/storage/conformance/`); the shapes it takes and returns are in
 * `types.ts`. Methods are Noun+Verb with one params
 * object; times are epoch milliseconds of the store's clock
 * ({@linkcode Storage.now}); every method is async.
 */
import type { Config, ConfigKey, ConfigValue } from "../config.ts";
import type {
  Job,
  JobState,
  JobWithRuns,
  NewJob,
  OnConflict,
  RunOutcome,
  RunOutput,
} from "../job.ts";
import type { NewSchedule, Schedule } from "../schedule.ts";
import type { BulkAction } from "../state.ts";
import type { BulkStep, BulkStepParams, JobChanges, JobFilter } from "./controls_types.ts";

import type {
  ClaimedJob,
  ClaimParams,
  EventListParams,
  EventPage,
  FinishedCount,
  HeartbeatReply,
  InsertResult,
  JobListParams,
  JobPage,
  ProgressWrite,
  PruneCounts,
  PruneParams,
  QueueHealth,
  QueueInfo,
  QueueRate,
  QueueSetParams,
  RecordResult,
  RunFinish,
  RunHookParams,
  RunOutputUpdate,
  RunStart,
  ScheduleFire,
  ScheduleFireResult,
  StrandedJob,
  WatchOptions,
  WorkerInfo,
  WorkerRequests,
  WorkerRole,
} from "./types.ts";

export type { BulkStep, BulkStepParams, JobChanges, JobFilter };
export * from "./types.ts";

/** Persistence of jobs, attempts, workers and settings. */
export interface Storage extends AsyncDisposable {
  /**
   * Where the data lives, safe to show (`status`, the dashboard, logs): a
   * file path, or a URL without its password.
   */
  readonly location: string;

  /** The database engine and its version, e.g. `SQLite 3.50.4` or `PostgreSQL 15.18`. */
  readonly engine: string;

  /**
   * The store's clock in epoch milliseconds, for every `now` passed to it:
   * the local clock for SQLite; the database server's clock for PostgreSQL
   * (the local clock plus an offset measured against the server), so hosts
   * whose clocks disagree still judge leases and due times alike.
   */
  now(): number;

  /** Releases the connections. */
  close(): Promise<void>;

  /**
   * Calls `onChange` soon after any process commits a write. Only a hint:
   * it may fire when nothing relevant changed, so re-query. `close()` ends it.
   */
  watchChanges(onChange: () => void, options?: WatchOptions): { close(): void };

  /**
   * Inserts jobs all or none; a duplicate id (also within `jobs`) is a
   * ConflictError. `insertedJobs()` gives the jobs as stored, without
   * building 100,000 objects for a caller that prints a count.
   *
   * Dependencies (`after`): each id must name an existing job or an earlier
   * job of `jobs`, not the job itself, and not a dead or cancelled job
   * (NotFoundError / ConflictError, nothing added). A job with a dependency
   * not yet completed is inserted `blocked`.
   *
   * Keys: at most one active job (`ACTIVE_STATES`) holds a key, enforced by
   * the store so concurrent inserts of one key add one job. A job whose key
   * is active (also by an earlier job of `jobs`) follows `onConflict`
   * (default "keep"): "keep" leaves it out (`kept`); "replace" cancels the
   * holder when it is not processing (`last_error` "replaced by <new id>",
   * its dependents cancelled in turn) and inserts the job, and a processing
   * holder is a ConflictError; "fail" is a ConflictError.
   */
  jobInsertMany(
    params: { jobs: NewJob[]; now: number; onConflict?: OnConflict | undefined },
  ): Promise<InsertResult>;
  /** One job, or `null`. */
  jobGet(params: { id: string }): Promise<Job | null>;
  /** The jobs of `ids` that exist, in any order (a thousand at once is fine). */
  jobGetMany(params: { ids: string[] }): Promise<Job[]>;
  /** One job with every attempt, or `null`. */
  jobGetWithRuns(params: { id: string }): Promise<JobWithRuns | null>;
  /** A page of jobs, newest first (ties in reverse insertion order). */
  jobList(params: JobListParams): Promise<JobPage>;
  /** Counts of jobs per state; every state present. O(1): kept by triggers. */
  jobCountByState(): Promise<Record<JobState, number>>;
  /**
   * Retries failed, dead or cancelled jobs (only dead ones with `dlqOnly`),
   * checked and changed in one transaction, all or none (see `planRetry()`).
   * A cancelled job goes back to `pending`, or `blocked` while a dependency
   * is open; a dependency that is dead or cancelled is a ConflictError
   * naming it; a key now held by another active job is a ConflictError.
   */
  jobRetry(
    params: { ids: string[]; now: number; dlqOnly?: boolean | undefined },
  ): Promise<Job[]>;
  /** Moves every dead job back to pending with attempts reset; returns how many. */
  jobRetryAllDead(params: { now: number }): Promise<number>;
  /**
   * Cancels pending, blocked and failed jobs at once and flags processing
   * ones for their worker to stop; atomic for all ids. Dependents of a
   * cancelled job are cancelled in turn (see `runFinishMany`). Returns the
   * jobs after the change.
   */
  jobCancel(params: { ids: string[]; now: number }): Promise<Job[]>;
  /**
   * Makes a pending job due now: its `next_run_at` moves to `now` when it
   * was later (a due job keeps its place). Guarded on the state in the same
   * statement: a job that is not pending is a ConflictError naming its
   * state, a missing one a NotFoundError. Wakes the workers. Returns the job.
   */
  jobRunNow(params: { id: string; now: number }): Promise<Job>;
  /**
   * Holds waiting jobs (pending, blocked, failed): state `held`, never
   * claimed, keys and dependencies kept; all or none (a job in another
   * state is a ConflictError naming it, see `planHold()`). Returns the jobs.
   */
  jobHold(params: { ids: string[]; now: number }): Promise<Job[]>;
  /**
   * Puts held jobs back where they were (see `planReleaseTo()`): blocked
   * while a dependency is open (a dependency that ended dead or cancelled
   * meanwhile cancels the job, as it would have), a due time that passed
   * means now; all or none. Returns the jobs.
   */
  jobRelease(params: { ids: string[]; now: number }): Promise<Job[]>;
  /**
   * Changes the fields of a job that is not running and not final, in one
   * transaction under the job's lock (a running or final job is a
   * ConflictError naming its state). Returns the job as changed.
   */
  jobEdit(params: { id: string; changes: JobChanges; now: number }): Promise<Job>;
  /**
   * Deletes final jobs by id with their attempts and output, all or none
   * (a job that is not final is a ConflictError). Returns how many.
   */
  jobDelete(params: { ids: string[] }): Promise<number>;
  /**
   * How many jobs an action by filter would change now, and the first
   * `sample` ids (oldest first): `--dry-run` and the dashboard's count.
   */
  jobBulkCount(
    params: { action: BulkAction; filter: JobFilter; sample: number },
  ): Promise<{ count: number; ids: string[] }>;
  /**
   * One batch of an action by filter, in one short transaction so claims
   * go on between batches: the next `limit` jobs (in a fixed order, among
   * those that existed at the first step) that match the filter and the
   * states the action applies to (`bulkStates()`) are checked again under
   * the write and changed as the same action by id would change them. A
   * job a worker claimed meanwhile is left alone, or (cancel) asked to
   * stop through the running-job path; never half changed. Call again with
   * the returned cursor until it is `null`.
   */
  jobBulkStep(params: BulkStepParams): Promise<BulkStep>;
  /** Deletes dead jobs (updated before `olderThan` when given); returns how many. */
  jobDeleteDead(params: { olderThan?: number | undefined }): Promise<number>;

  /**
   * Deletes final jobs older than the cutoffs, with their attempts and
   * output, in one transaction of at most `limit` jobs (callers loop in
   * small batches so claims never wait long). Quiet: deleting final jobs
   * makes nothing claimable. Returns how many per state.
   */
  jobPrune(params: PruneParams): Promise<PruneCounts>;

  /**
   * Atomically claims up to `limit` due jobs (priority, then due time) for
   * `workerId`, starting a new attempt with a lease until `now + leaseMs`,
   * due and `now` judged by the store's clock inside the statement.
   * A job is never claimed twice. Nothing is claimed from a paused queue,
   * and a queue with a concurrency limit never has more than that many
   * jobs processing: the limit is checked and the jobs taken under one
   * serialization (all hosts), not by a read before the claim. The same
   * holds for a queue's rate limit (at most N starts in any window, each
   * recorded in the claim that makes it) and its group concurrency (a
   * group at its limit is skipped, never holding up other groups). A job
   * past its `expires_at` that never started is cancelled ("expired")
   * by the claim instead of started.
   */
  jobClaim(params: ClaimParams): Promise<ClaimedJob[]>;
  /**
   * When the next job of these queues becomes due, or `null` if none is
   * waiting; a rate-limited queue whose window is full at `now` (default:
   * the store's clock) counts as due when its window next allows a start.
   */
  jobNextDueAt(
    params: { queues: string[] | null; now?: number | undefined },
  ): Promise<number | null>;
  /**
   * Cancels up to `limit` (default 500) jobs not started by their
   * `expires_at` (pending, blocked or held, no attempt yet), with `last_error`
   * "expired" and their dependents as any cancel has; returns their ids.
   */
  jobExpire(params: { now: number; limit?: number | undefined }): Promise<string[]>;
  /** The earliest `expires_at` of a job that may still expire, or `null`. */
  jobNextExpiryAt(): Promise<number | null>;
  /**
   * Processing jobs whose lease expired (unless `leases` is false) by the
   * store's clock (`now` in tests), or whose worker is one of `workerIds`
   * (supervisors seen to be gone).
   */
  jobListStranded(
    params: { now?: number | undefined; workerIds: string[]; leases?: boolean | undefined },
  ): Promise<StrandedJob[]>;

  /** Records process details of started attempts; guarded on the job still being this worker's. */
  runStartMany(params: { starts: RunStart[] }): Promise<void>;
  /** Stores output captured so far by running attempts. */
  runOutputUpdateMany(params: { updates: RunOutputUpdate[] }): Promise<void>;
  /**
   * Ends attempts and moves their jobs on, in one transaction. Each write
   * applies only while the job is still processing by that worker and
   * attempt, so a late result never overwrites a rescued job; a finish
   * with `ifLeaseExpired` only while its lease has expired by the store's
   * clock (`now` in tests). Returns the ids that applied.
   *
   * In the same transaction: a job that completes unblocks each dependent
   * whose last open dependency it was (`blocked` → `pending`, due at its
   * `run_at` or now); a job that ends `dead` or `cancelled` cancels its
   * blocked dependents, and theirs in turn, with `last_error` naming it.
   */
  runFinishMany(
    params: { finishes: RunFinish[]; now?: number | undefined },
  ): Promise<string[]>;
  /**
   * Starts, output snapshots and finishes, in that order, with the
   * guarantees of the three methods above (each write guarded on its own,
   * so a store may commit them in one transaction or in several); then,
   * when `claim` is given, a claim with the guarantees of `jobClaim`, so a
   * worker refills the slots its finishes freed without a write of its
   * own. The claim commits with the records (all or nothing); a store may
   * claim from concurrency-limited queues after that commit, and a failure
   * there claims nothing more and throws nothing (the worker's next claim
   * round meets the error).
   */
  runRecordMany(params: {
    starts: RunStart[];
    outputs: RunOutputUpdate[];
    finishes: RunFinish[];
    claim?: ClaimParams | undefined;
  }): Promise<RecordResult>;
  /** The output of one run (the latest when neither `attempt` nor `run` is given), or `null`. */
  runOutputGet(
    params: {
      id: string;
      attempt?: number | undefined;
      /**
       * The nth run in the job's history (1-based, the order of `runs` in
       * `show --json`); unlike `attempt`, it tells apart runs that share an
       * attempt number (after a DLQ retry or a forced stop).
       */
      run?: number | undefined;
    },
  ): Promise<RunOutput | null>;

  /** Registers a worker process. */
  workerRegister(params: {
    id: string;
    pid: number;
    host: string;
    count: number;
    queues: string[] | null;
    now: number;
    /** Default "worker". */
    role?: WorkerRole;
    /** The host's clock minus the store's (default 0). */
    clockOffsetMs?: number;
    /** The process's start time, from /proc (default null). */
    procStart?: string | null;
    /** The pid space it runs in (default null). */
    pidSpace?: string | null;
  }): Promise<void>;
  /**
   * Renews a worker's heartbeat and its jobs' leases in one transaction:
   * each lease becomes the store's now (`now` in tests) plus `leaseMs`,
   * never earlier than it was. Replies with the attempts it holds.
   */
  workerHeartbeat(
    params: { id: string; now?: number | undefined; leaseMs: number; clockOffsetMs?: number },
  ): Promise<HeartbeatReply>;
  /** The stop and cancel requests for a worker, read without renewing anything. */
  workerRequestsGet(params: { id: string }): Promise<WorkerRequests>;
  /** Removes a worker from the registry. */
  workerRemove(params: { id: string }): Promise<void>;
  /**
   * Worker processes whose heartbeat is newer than `staleBefore`; those
   * older than `lateBefore` are marked `late`.
   */
  workerList(params: { staleBefore: number; lateBefore?: number }): Promise<WorkerInfo[]>;
  /** Every registered worker, live or not, for the rescuer. */
  workerListAll(): Promise<WorkerInfo[]>;
  /**
   * Takes (or keeps) the turn `name` (default "rescuer"; the pruner's is
   * "pruner") for `holder` until `now + ttlMs`: true when it is `holder`'s,
   * false while another holder's turn lasts. So one pass of a maintenance
   * service runs at a time across all hosts, judged by the store's clock
   * inside the statement (`now` in tests only); a
   * holder that dies loses the turn when its time runs out. Quiet.
   */
  turnTake(
    params: { name?: string | undefined; holder: string; now?: number | undefined; ttlMs: number },
  ): Promise<boolean>;
  /** Asks workers (all when `ids` is omitted) to stop; returns how many were asked. */
  workerRequestStop(params: { ids?: string[]; mode: "graceful" | "force" }): Promise<number>;

  /** When the earliest failed job is due to be retried, or `null`. */
  jobNextRetryAt(): Promise<number | null>;
  /**
   * Attempts finished at or after `since`, counted per bucket of `bucketMs`;
   * only buckets with any, in any order (`lib/stats.ts` shapes the series).
   */
  runFinishedCounts(params: { since: number; bucketMs: number }): Promise<FinishedCount[]>;

  /** Totals over every finished attempt by outcome, for `/metrics`. */
  runTotals(): Promise<{ outcome: RunOutcome; count: number; duration_ms_sum: number }[]>;

  /** Adds a schedule; a name in use is a ConflictError. */
  scheduleInsert(params: { schedule: NewSchedule; now: number }): Promise<Schedule>;
  /** One schedule, or `null`. */
  scheduleGet(params: { name: string }): Promise<Schedule | null>;
  /** Every schedule, by name. */
  scheduleList(): Promise<Schedule[]>;
  /** Removes a schedule (its jobs stay); an unknown name is a NotFoundError. */
  scheduleDelete(params: { name: string }): Promise<void>;
  /**
   * Pauses or resumes a schedule; resuming sets its next due time to
   * `nextRunAt` (computed from now). An unknown name is a NotFoundError.
   */
  scheduleSetPaused(
    params: { name: string; paused: boolean; nextRunAt?: number | null | undefined },
  ): Promise<Schedule>;
  /**
   * Fires schedules, each exactly once per due time across processes and
   * hosts: for each, a guarded advance of its next due time (`next_run_at`
   * from `expectedNextRunAt` to `nextRunAt`, only while it is still
   * `expectedNextRunAt` and the schedule is not paused) and the insert of
   * its `jobs`. When a guard fails nothing of that schedule is written
   * (`fired` false). A job whose key is held by an active job (a schedule
   * without `overlap` gives its jobs the key `schedule:<name>`), or whose
   * id is taken, is left out (`skipped`, counted in the schedule's
   * `skipped`). `missed` adds to the schedule's missed count (catch-up).
   * With `expectedNextRunAt` null (`schedule run`), the next due time is
   * left alone and a skip is not counted.
   *
   * All in ONE transaction: a firer with many schedules due at once commits
   * and wakes workers once. Rows are locked in name order, so firers on
   * many hosts never deadlock. Results in the order of `fires`.
   */
  scheduleFireMany(params: { fires: ScheduleFire[]; now: number }): Promise<ScheduleFireResult[]>;
  /** The earliest next due time of the schedules not paused, or `null`: the firer's timer. */
  scheduleNextDueAt(): Promise<number | null>;
  /** Schedules not paused whose next due time is at or before `now`, earliest first. */
  scheduleListDue(params: { now: number; limit: number }): Promise<Schedule[]>;

  /** Every setting, defaults filled in. */
  configGetAll(): Promise<Config>;
  /** Stores one setting (already validated). */
  configSet(params: { key: ConfigKey; value: ConfigValue }): Promise<void>;

  /**
   * Every queue known from jobs or from its settings, by name, with counts
   * per state (a scan of the jobs: meant for `queue list` and the
   * dashboard, not for hot paths).
   */
  queueList(): Promise<QueueInfo[]>;
  /**
   * Per queue with waiting or recently finished jobs: delayed jobs, the
   * oldest due time still waiting at `now`, and attempts finished since
   * `since` (scans, like {@linkcode queueList}).
   */
  queueHealthList(params: { now: number; since: number }): Promise<QueueHealth[]>;
  /**
   * Changes a queue's settings (a field left out keeps its value; a queue
   * with no settings yet is unpaused and unlimited). Wakes every watcher,
   * so a resume or a raised limit reaches idle workers at once.
   */
  queueSet(params: QueueSetParams): Promise<void>;
  /**
   * The rate-limited queues with how many starts their window ending at
   * `now` holds, by name: small reads only (no scan of the jobs), for
   * `status`.
   */
  queueRateList(params: { now: number }): Promise<QueueRate[]>;

  /** The space the database takes, in bytes (SQLite: file plus WAL; PostgreSQL: queuectl's tables). */
  storeSize(): Promise<number>;
  /** Returns freed space to the file system; the sizes before and after, in bytes. */
  storeVacuum(): Promise<{ before: number; after: number }>;
  /**
   * Writes a consistent copy of the database to the new file `path`, while
   * other processes keep writing. Refuses an existing file or a missing
   * folder, and a store that cannot (PostgreSQL: use pg_dump), as UsageError.
   * Returns the copy's size in bytes.
   */
  storeBackup(params: { path: string }): Promise<{ bytes: number }>;

  /**
   * Events after `after`, oldest first (README "Events"). Every change of a
   * job's state, its progress and its fields is written as an event in the
   * same transaction as the change, by the store's triggers. The `seq`
   * order is gap-free for readers: once a reader has seen seq n, no event
   * with a lower seq commits later, on any host.
   */
  eventList(params: EventListParams): Promise<EventPage>;
  /**
   * Deletes up to `limit` of the oldest events whose `at` is before
   * `before`, and raises the `pruned` mark; returns how many. Quiet.
   */
  eventPrune(params: { before: number; limit: number }): Promise<number>;
  /**
   * How many events {@linkcode Storage.eventPrune} would delete, all batches
   * together, for the same `before` (`prune --dry-run`). Deletes nothing.
   */
  eventPruneCount(params: { before: number }): Promise<number>;
  /** A named mark of the log (`pruned`, `webhook`): a seq, 0 when never set. */
  eventMarkGet(params: { name: string }): Promise<number>;
  /** Raises a named mark to `seq` (never lowers it). Quiet. */
  eventMarkSet(params: { name: string; seq: number }): Promise<void>;
  /**
   * Stores a running attempt's progress (a `progress` event): only while the
   * job is processing in that attempt ("not_live" otherwise); a write within
   * `coalesceMs` of the attempt's previous one is dropped ("coalesced")
   * unless the value is 100.
   */
  jobProgressSet(params: ProgressWrite): Promise<"written" | "coalesced" | "not_live">;
  /**
   * Records an attempt's `on_finish` hook result on its run, and a `hook`
   * event. With `eventOnly` (the hook of a job cancelled while not running,
   * which has no attempt of its own) only the `hook` event is written, with
   * that host and worker, and no run is touched. Nothing for a job that is gone.
   */
  runHookSet(params: RunHookParams): Promise<void>;
}

/** The params object of the {@linkcode Storage} method `K`: how the stores spell each method once. */
export type Params<K extends keyof Storage> = Storage[K] extends (params: infer P) => unknown ? P
  : never;
