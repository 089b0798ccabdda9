/**
 * The shapes that cross the {@linkcode Storage} interface (`storage.ts`):
 * its parameters and results, apart from the interface itself so that a
 * reader finds the methods in one place. `storage.ts` re-exports them all.
 */

import type { Job, JobState, NewJob, RunOutcome } from "../job.ts";

import type { EventType, HookResult, QueueEvent } from "../event.ts";

/** Filters and paging of {@linkcode Storage.jobList}; newest first, ties newest enqueued first. */
export interface JobListParams {
  state?: JobState | undefined;
  queue?: string | undefined;
  /** Matches a substring of the id or the command. */
  search?: string | undefined;
  /** Only jobs carrying every one of these tags. */
  tags?: string[] | undefined;
  /** Only jobs created before this time (epoch ms). */
  createdBefore?: number | undefined;
  limit: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string | undefined;
  /**
   * Only pending jobs not due until after this time (delayed jobs), soonest
   * due first; `state` is then ignored. The dashboard's "scheduled" view.
   */
  dueAfter?: number | undefined;
}

/** One page of jobs. */
export interface JobPage {
  jobs: Job[];
  /** Pass as `cursor` for the next page; `null` on the last page. */
  nextCursor: string | null;
}

/** Options of {@linkcode Storage.watchChanges}. */
export interface WatchOptions {
  /**
   * Also call back soon after a job ends (completed, dead, cancelled), for
   * `wait` and live views. Without it a store may stay quiet about job
   * ends, which idle workers need not hear of (PostgreSQL does, so a finish
   * on one host does not wake every idle worker on every other).
   */
  jobEnds?: boolean;
}

/** What {@linkcode Storage.jobInsertMany} did. */
export interface InsertResult {
  /** How many jobs were added. */
  inserted: number;
  /**
   * Jobs left out because their key was active (`onConflict` "keep"), in
   * input order, each with the id of the job holding the key (which may be
   * an earlier job of the same batch).
   */
  kept: { id: string; key: string; existingId: string }[];
  /** Ids of the jobs added as `blocked` (a dependency not yet completed). */
  blocked: string[];
  /** Ids of the jobs cancelled to make room for a new one (`onConflict` "replace"). */
  replaced: string[];
}

/** A running worker process, as `worker list --json` prints it. */
export interface WorkerInfo {
  id: string;
  pid: number;
  host: string;
  started_at: string;
  heartbeat_at: string;
  /** How many jobs it runs at once. */
  count: number;
  /** The queues it serves; `null` means all. */
  queues: string[] | null;
  /** Ids of the jobs it runs now. */
  current_jobs: string[];
  stop_requested: "graceful" | "force" | null;
  /** What runs the workers: `worker start`, or a dashboard started with `--workers`. */
  role: WorkerRole;
  /** Its host's clock minus the store's, at its last heartbeat (0 where they are one clock). */
  clock_offset_ms: number;
  /** Its heartbeat is older than `lateBefore` (stalled, cut off, or gone). */
  late: boolean;
  /**
   * The process's start time (clock ticks since boot, from /proc), so a
   * reused pid is not taken for it; `null` when registered without one.
   */
  proc_start: string | null;
  /**
   * The pid space it runs in (boot id and pid namespace): a host can judge
   * its pid only from the same space; `null` when registered without one.
   */
  pid_space: string | null;
}

/** What runs a supervisor: `worker start`, or a dashboard started with `--workers`. */
export type WorkerRole = "worker" | "dashboard";

/** Attempts that finished within one bucket of {@linkcode Storage.runFinishedCounts}. */
export interface FinishedCount {
  /** The bucket's index: `floor((finished_at - since) / bucketMs)`. */
  bucket: number;
  completed: number;
  /** Every other outcome: failed, timed out, interrupted, cancelled, spawn failed. */
  failed: number;
}

/** One schedule's due time(s) to fire: see {@linkcode Storage.scheduleFireMany}. */
export interface ScheduleFire {
  name: string;
  /** The next due time the firer read; `null` for `schedule run` (no guard, no advance). */
  expectedNextRunAt: number | null;
  /** The schedule's next due time after this firing. */
  nextRunAt: number | null;
  jobs: NewJob[];
  /** Due times missed while no worker ran, left out by the catch-up mode. */
  missed: number;
}

/** What {@linkcode Storage.scheduleFireMany} did for one schedule. */
export interface ScheduleFireResult {
  /**
   * Whether this call fired: false when another process fired that due
   * time first (or the schedule was paused, changed or removed meanwhile).
   */
  fired: boolean;
  /** Ids of the jobs added. */
  inserted: string[];
  /**
   * Ids of the jobs left out because their key was held by an active job
   * (the schedule's previous one, without `overlap`), or their id was taken.
   */
  skipped: string[];
}

/** A job handed to a worker by {@linkcode Storage.jobClaim}. */
export interface ClaimedJob extends Job {
  /** The attempt this claim starts (1-based). */
  attempt: number;
}

/** What to claim: see {@linkcode Storage.jobClaim}. */
export interface ClaimParams {
  workerId: string;
  /** Queues served; `null` means all. */
  queues: string[] | null;
  limit: number;
  /**
   * Tests only (a fixed clock): judge due times and stamp the lease by
   * this time. Workers leave it out: the store's own clock decides, inside
   * the statement (DESIGN.md, "Fencing").
   */
  now?: number | undefined;
  leaseMs: number;
}

/** What {@linkcode Storage.runRecordMany} did. */
export interface RecordResult {
  /** The finished ids that applied. */
  applied: string[];
  /** The jobs its `claim` took (none without one). */
  claimed: ClaimedJob[];
}

/** A running job whose lease expired or whose supervisor is gone. */
export interface StrandedJob extends Job {
  attempt: number;
  started_at: number;
  /** Where the job's process group ran, to end an orphan on the same host. */
  host: string | null;
  pgid: number | null;
  proc_start: string | null;
}

/** The end of one attempt, written by {@linkcode Storage.runFinishMany}. */
export interface RunFinish {
  id: string;
  workerId: string;
  attempt: number;
  outcome: RunOutcome;
  exitCode: number | null;
  signal: string | null;
  error: string | null;
  finishedAt: number;
  stdout: Uint8Array | null;
  stderr: Uint8Array | null;
  /** The job's next state, from `decideAfterRun()` or `decideAfterForcedStop()`. */
  state: "completed" | "failed" | "dead" | "cancelled" | "pending";
  nextRunAt: number | null;
  /** The attempt does not count against the job's retries (a forced stop): attempts - 1. */
  uncountAttempt: boolean;
  /**
   * A rescue by lease: applies only if the attempt's lease has expired by
   * the store's clock at the moment of the write (DESIGN.md, "Fencing").
   */
  ifLeaseExpired?: boolean | undefined;
}

/** Process details of a started attempt, for orphan clean-up after a crash. */
export interface RunStart {
  id: string;
  workerId: string;
  attempt: number;
  host: string;
  pgid: number | null;
  procStart: string | null;
}

/** Output captured so far by a running attempt, for `logs --follow`. */
export interface RunOutputUpdate {
  id: string;
  /** The worker running the attempt: the snapshot lands only while the attempt is its own. */
  workerId: string;
  attempt: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
}

/** Requests a supervisor must act on. */
export interface WorkerRequests {
  stopRequested: "graceful" | "force" | null;
  /** Running jobs of this worker that `cancel` asked to stop. */
  cancelRequested: string[];
}

/** One attempt of a job, as a lease names it. */
export interface AttemptRef {
  id: string;
  attempt: number;
}

/** The result of a heartbeat: the requests, and what the worker still holds. */
export interface HeartbeatReply extends WorkerRequests {
  /**
   * Every attempt still `processing` under this worker, its lease renewed
   * by this heartbeat, by id. An attempt the worker runs that is not here
   * was taken from it (rescued, cancelled, gone); one here that it does not
   * run is a claim whose answer it never got.
   */
  held: AttemptRef[];
  /** Whether the worker's registry entry existed (it may have been removed as silent). */
  registered: boolean;
}

/** A named queue as `queue list --json` prints it. */
export interface QueueInfo {
  name: string;
  /** Jobs of this queue per state; every state present. */
  counts: Record<JobState, number>;
  /** Jobs of this queue running now (its `processing` count). */
  running: number;
  /** Workers start nothing from a paused queue. */
  paused: boolean;
  /** At most this many of its jobs run at once across all workers; 0 = no limit. */
  concurrency: number;
  /**
   * At most `limit` attempts start in any window of `period_ms`, and how
   * many started in the window ending now (`used`); `null`: no rate limit.
   */
  rate: { limit: number; period_ms: number; used: number } | null;
  /** At most this many jobs of one group of this queue run at once; 0 = no limit. */
  group_concurrency: number;
}

/** A rate-limited queue and how full its window is: see {@linkcode Storage.queueRateList}. */
export interface QueueRate {
  name: string;
  limit: number;
  period_ms: number;
  /** Starts in the window ending now. */
  used: number;
}

/** What {@linkcode Storage.queueSet} changes; a field left out keeps its value. */
export interface QueueSetParams {
  name: string;
  paused?: boolean | undefined;
  concurrency?: number | undefined;
  /** `null` turns the rate limit off. */
  rate?: { limit: number; periodMs: number } | null | undefined;
  groupConcurrency?: number | undefined;
}

/** How a queue is keeping up, read at a time `now` (the dashboard's queues page, `/metrics`). */
export interface QueueHealth {
  name: string;
  /** Pending jobs not due yet (delayed). */
  scheduled: number;
  /** The earliest due time of its jobs that are due and waiting (pending or failed); `null` if none. */
  oldest_due_at: number | null;
  /** Attempts of its jobs that finished since `since`: succeeded, and anything else. */
  completed: number;
  failed: number;
}

/** The final states retention may delete, in the order a batch takes them. */
export const PRUNABLE_STATES = ["completed", "cancelled", "dead"] as const;

/** A final state retention may delete. */
export type PrunableState = typeof PRUNABLE_STATES[number];

/** Jobs deleted (or, on a dry run, to be deleted) per final state. */
export type PruneCounts = Record<PrunableState, number>;

/** What {@linkcode Storage.jobPrune} deletes. */
export interface PruneParams {
  /**
   * Per final state, the cutoff: jobs that became final (`updated_at`)
   * before it go. A state left out (or `null`) is kept.
   */
  before: Partial<Record<PrunableState, number | null>>;
  /** At most this many jobs in this call (one transaction); all when omitted. */
  limit?: number | undefined;
  /** Count only; delete nothing. */
  dryRun?: boolean | undefined;
  /**
   * When `unique_for` windows are judged: a final job whose window is still
   * open at this time is kept, since its key stays taken (README "Flow
   * control"). The store's clock when omitted.
   */
  now?: number | undefined;
}

/** What {@linkcode Storage.runHookSet} records. */
export interface RunHookParams {
  id: string;
  attempt: number;
  hook: HookResult;
  now: number;
  /** A hook with no attempt of its own (cancelled while not running): the event only, with these. */
  eventOnly?: { host: string; worker: string } | undefined;
}

/** What {@linkcode Storage.eventList} reads: events after a seq, oldest first. */
export interface EventListParams {
  /** Events with a higher seq (0: from the oldest kept). */
  after: number;
  limit: number;
  queues?: string[] | undefined;
  types?: EventType[] | undefined;
  job?: string | undefined;
}

/** A page of the event log. */
export interface EventPage {
  events: QueueEvent[];
  /**
   * Every event up to this seq was considered (matching or not): the next
   * page's `after`. Gap-free: no event at or below it can appear later.
   */
  through: number;
  /** Events up to this seq were pruned; a reader whose `after` is below it missed some. */
  prunedThrough: number;
  /** The highest seq readers can see now. */
  latest: number;
}

/** A progress write of {@linkcode Storage.jobProgressSet}. */
export interface ProgressWrite {
  id: string;
  attempt: number;
  progress: number;
  message: string | null;
  now: number;
  /** A write within this long of the attempt's previous one is dropped (unless progress is 100). */
  coalesceMs: number;
}
