/** The job model: states, outcomes, and the shapes stored and shown. */

/** Every state a job can be in; a closed set (see DESIGN.md for the transitions). */
export const JOB_STATES = [
  "pending",
  "blocked",
  "held",
  "processing",
  "completed",
  "failed",
  "dead",
  "cancelled",
] as const;

/**
 * A job's state. `failed` means a retry is scheduled; `dead` is the DLQ;
 * `blocked` waits for its dependencies (`after`) to complete; `held` was
 * put aside by an operator and is never claimed until released.
 */
export type JobState = typeof JOB_STATES[number];

/** The states a job holds its unique key in: at most one such job per key. */
export const ACTIVE_STATES = ["pending", "blocked", "processing", "failed", "held"] as const;

/** The waiting states `hold` takes a job from, and `release` puts it back to. */
export const HOLDABLE_STATES = ["pending", "blocked", "failed"] as const;

/** A state `hold` takes a job from. */
export type HoldableState = typeof HOLDABLE_STATES[number];

/** The states a job never leaves by itself. */
export const FINAL_STATES = ["completed", "dead", "cancelled"] as const;

/** Whether a job in this state is done for good (until someone retries it). */
export function isFinalState(state: JobState): boolean {
  return (FINAL_STATES as readonly string[]).includes(state);
}

/** An entry of `retry_on`: an exit code 1–255, or `"timeout"`. */
export type RetryOn = number | "timeout";

/** What enqueueing a job whose key is active does (README "Job flow"). */
export type OnConflict = "keep" | "replace" | "fail";

/** Every `--on-conflict` word. */
export const ON_CONFLICT = ["keep", "replace", "fail"] as const;

/** Every outcome an attempt (a run) can end with. */
export const RUN_OUTCOMES = [
  "succeeded",
  "failed",
  "timed_out",
  "spawn_failed",
  "interrupted",
  "cancelled",
] as const;

/** How one attempt ended. */
export type RunOutcome = typeof RUN_OUTCOMES[number];

/** A job as stored and as printed by `--json`; every field present, `null` where unset. */
export interface Job {
  id: string;
  command: string;
  state: JobState;
  queue: string;
  priority: number;
  /** `null` means "use the `max_retries` setting at the time of the failure". */
  max_retries: number | null;
  /** Seconds; `null` means "use the `job_timeout` setting"; 0 means none. */
  timeout: number | null;
  env: Record<string, string> | null;
  cwd: string | null;
  attempts: number;
  created_at: string;
  updated_at: string;
  next_run_at: string | null;
  last_error: string | null;
  worker_id: string | null;
  /** Ids of the jobs that must complete before this one runs. */
  after: string[] | null;
  /** The unique key: at most one active job holds it. */
  key: string | null;
  /** Failures that are retried (exit codes, `"timeout"`); `null` retries every failure. */
  retry_on: RetryOn[] | null;
  /** Its group: `group_concurrency` of its queue caps running jobs per group. */
  group: string | null;
  /** `null` means "use the `backoff_base` setting". */
  backoff_base: number | null;
  /** Seconds; `null` means "use the `backoff_max` setting". */
  backoff_max: number | null;
  /** Not started by then means `cancelled` ("expired"). */
  expires_at: string | null;
  /** Ids of the jobs that must be final, whatever their outcome, before this one runs. */
  after_any: string[] | null;
  /** Seconds the key stays taken after enqueue, even once the job is final. */
  unique_for: number | null;
  /** A shell command run after each attempt's end (README "Hooks"); `null`: the setting's. */
  on_finish: string | null;
  /** The live attempt's (or the last attempt's) progress 0–100, `null` if none reported. */
  progress: number | null;
  progress_message: string | null;
  /** Labels to find the job by (README "Operating a queue"); `null` for none. */
  tags: string[] | null;
}

/** Another job named in a job's `after`, or depending on it, with its state (`null`: pruned). */
export interface JobLink {
  id: string;
  state: JobState | null;
}

/** One attempt of a job, as printed in `show --json`'s `runs`. */
export interface Run {
  attempt: number;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  /** `null` while the attempt is still running. */
  outcome: RunOutcome | null;
  exit_code: number | null;
  signal: string | null;
  error: string | null;
  worker_id: string | null;
  /** The attempt's `on_finish` hook result, `null` when none ran (yet). */
  hook: HookResult | null;
}

/** A job with its attempts, as printed by `show --json`. */
export interface JobWithRuns extends Job {
  runs: Run[];
  /** The jobs of `after`, in that order, with their states. */
  dependencies: JobLink[];
  /** The jobs whose `after` names this one, oldest first. */
  dependents: JobLink[];
}

/** The captured output of one attempt. */
export interface RunOutput {
  id: string;
  attempt: number;
  stdout: string;
  stderr: string;
}

/** A validated job ready to be inserted; times are epoch milliseconds. */
export interface NewJob {
  id: string;
  command: string;
  queue: string;
  priority: number;
  max_retries: number | null;
  timeout: number | null;
  env: Record<string, string> | null;
  cwd: string | null;
  /** When the job becomes due; epoch ms. */
  run_at: number;
  /** Ids of jobs that must complete first (existing ones, or earlier ones of the same batch). */
  after: string[] | null;
  key: string | null;
  retry_on: RetryOn[] | null;
  // README "Flow control"; absent means none (as null).
  group?: string | null | undefined;
  backoff_base?: number | null | undefined;
  backoff_max?: number | null | undefined;
  /** Epoch ms; `null` for none. */
  expires_at?: number | null | undefined;
  /** Ids of jobs that must be final first (any outcome). */
  after_any?: string[] | null | undefined;
  /** Seconds; only with `key`. */
  unique_for?: number | null | undefined;
  /** A shell command run after each attempt's end; absent or `null`: the setting's. */
  on_finish?: string | null | undefined;
  /** Labels to find the job by; absent or `null` for none. */
  tags?: string[] | null | undefined;
  /** Inserted `held` (`enqueue --hold`): never claimed until released. */
  hold?: boolean | undefined;
}

/**
 * The jobs as a store holds them right after inserting them at `now`:
 * pending (or blocked, as `result` says), never attempted, created and
 * updated at `now`; those `result` kept out by their key are left out.
 */
export function insertedJobs(
  jobs: NewJob[],
  now: number,
  result?: { kept: readonly { id: string }[]; blocked: readonly string[] },
): Job[] {
  // Formatting a time costs more than inserting a row: one string for `now`,
  // which is every job's creation time and usually its due time.
  const nowIso = isoTime(now);
  const kept = new Set(result?.kept.map((k) => k.id));
  const blocked = new Set(result?.blocked);
  if (kept.size > 0) jobs = jobs.filter((job) => !kept.has(job.id));
  return jobs.map((job): Job => ({
    id: job.id,
    command: job.command,
    state: job.hold ? "held" : blocked.has(job.id) ? "blocked" : "pending",
    queue: job.queue,
    priority: job.priority,
    max_retries: job.max_retries,
    timeout: job.timeout,
    env: job.env,
    cwd: job.cwd,
    attempts: 0,
    created_at: nowIso,
    updated_at: nowIso,
    next_run_at: job.run_at === now ? nowIso : isoTime(job.run_at),
    last_error: null,
    worker_id: null,
    after: job.after,
    key: job.key,
    retry_on: job.retry_on,
    group: job.group ?? null,
    backoff_base: job.backoff_base ?? null,
    backoff_max: job.backoff_max ?? null,
    expires_at: job.expires_at == null ? null : isoTime(job.expires_at),
    after_any: job.after_any ?? null,
    unique_for: job.unique_for ?? null,
    on_finish: job.on_finish ?? null,
    progress: null,
    progress_message: null,
    tags: job.tags ?? null,
  }));
}

/**
 * Whether a new job has a field of README "Flow control", which the stores
 * insert one by one (as they do jobs with dependencies) rather than in bulk.
 */
export function hasFlowControl(job: NewJob): boolean {
  return job.group != null || job.backoff_base != null || job.backoff_max != null ||
    job.expires_at != null || job.after_any != null || job.unique_for != null;
}

/** The last error of a job cancelled because it was not started by its `expires_at`. */
export const EXPIRED_ERROR = "expired";

/** Formats epoch milliseconds as ISO-8601 UTC with milliseconds. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Whether a string is one of the job states. */
export function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}

/** How an `on_finish` hook ended, as `show` prints it under its attempt. */
export interface HookResult {
  outcome: "succeeded" | "failed" | "timed_out" | "spawn_failed";
  exit_code: number | null;
  duration_ms: number;
  error: string | null;
}
