/** The job model: states, outcomes, and the shapes stored and shown. */

/** Every state a job can be in; a closed set (see DESIGN.md for the transitions). */
export const JOB_STATES = [
  "pending",
  "processing",
  "completed",
  "failed",
  "dead",
  "cancelled",
] as const;

/** A job's state. `failed` means a retry is scheduled; `dead` is the DLQ. */
export type JobState = typeof JOB_STATES[number];

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
}

/** A job with its attempts, as printed by `show --json`. */
export interface JobWithRuns extends Job {
  runs: Run[];
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
}

/**
 * The jobs as a store holds them right after inserting them at `now`:
 * pending, never attempted, created and updated at `now`.
 */
export function insertedJobs(jobs: NewJob[], now: number): Job[] {
  // Formatting a time costs more than inserting a row: one string for `now`,
  // which is every job's creation time and usually its due time.
  const nowIso = isoTime(now);
  return jobs.map((job): Job => ({
    id: job.id,
    command: job.command,
    state: "pending",
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
  }));
}

/** Formats epoch milliseconds as ISO-8601 UTC with milliseconds. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Whether a string is one of the job states. */
export function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}
