/**
 * Rows as both stores return them (the same column names, times as epoch
 * milliseconds, `env` as JSON text, output as bytes) turned into the job
 * model, and the cursor of `jobList` pages. Private to `lib/storage/`.
 */
import { isoTime, type Job, JOB_STATES, type JobState, type Run, type RunOutcome } from "../job.ts";
import type { CatchUp, Schedule } from "../schedule.ts";
import type { ClaimedJob, QueueHealth, QueueInfo, WorkerInfo, WorkerRole } from "./storage.ts";

/** A result row, column name to value. */
export type Row = Record<string, unknown>;

const decoder = new TextDecoder();

/** A `jobs` row as a {@linkcode Job}. */
export function toJob(row: Row): Job {
  return {
    id: row.id as string,
    command: row.command as string,
    state: row.state as JobState,
    queue: row.queue as string,
    priority: row.priority as number,
    max_retries: row.max_retries as number | null,
    timeout: row.timeout as number | null,
    env: row.env === null ? null : JSON.parse(row.env as string),
    cwd: row.cwd as string | null,
    attempts: row.attempts as number,
    created_at: isoTime(row.created_at as number),
    updated_at: isoTime(row.updated_at as number),
    next_run_at: row.next_run_at === null ? null : isoTime(row.next_run_at as number),
    last_error: row.last_error as string | null,
    worker_id: row.worker_id as string | null,
    after: row.after_ids === null ? null : JSON.parse(row.after_ids as string),
    key: row.unique_key as string | null,
    retry_on: row.retry_on === null ? null : JSON.parse(row.retry_on as string),
    group: (row.grp as string | null | undefined) ?? null,
    backoff_base: (row.backoff_base as number | null | undefined) ?? null,
    backoff_max: (row.backoff_max as number | null | undefined) ?? null,
    expires_at: row.expires_at === null || row.expires_at === undefined
      ? null
      : isoTime(Number(row.expires_at)),
    after_any: row.after_any_ids === null || row.after_any_ids === undefined
      ? null
      : JSON.parse(row.after_any_ids as string),
    unique_for: (row.unique_for as number | null | undefined) ?? null,
    tags: row.tags == null ? null : JSON.parse(row.tags as string),
    ...progressOf(row),
  };
}

/** A row's hook and progress fields (README "Events"): progress only of the attempt that wrote it. */
function progressOf(row: Row): Pick<Job, "on_finish" | "progress" | "progress_message"> {
  const current = row.progress_attempt !== undefined && row.progress_attempt !== null &&
    Number(row.progress_attempt) === Number(row.attempts);
  return {
    on_finish: (row.on_finish as string | null | undefined) ?? null,
    progress: current ? Number(row.progress) : null,
    progress_message: current ? (row.progress_message as string | null) ?? null : null,
  };
}

/** Claimed `jobs` rows as jobs, in claim order: priority, then due time, then insertion. */
export function toClaimed(rows: Row[]): ClaimedJob[] {
  return [...rows]
    .sort((a, b) =>
      (b.priority as number) - (a.priority as number) ||
      (a.next_run_at as number) - (b.next_run_at as number) ||
      (a.seq as number) - (b.seq as number)
    )
    .map((row) => ({ ...toJob(row), attempt: row.attempts as number }));
}

/** A `schedules` row as a {@linkcode Schedule} (booleans are 0/1 on SQLite). */
export function toSchedule(row: Row): Schedule {
  return {
    name: row.name as string,
    cron: row.cron as string,
    tz: row.tz as string,
    catch_up: row.catch_up as CatchUp,
    overlap: Boolean(row.overlap),
    job: JSON.parse(row.job as string),
    paused: Boolean(row.paused),
    next_run_at: row.next_run_at as number | null,
    last_run_at: row.last_run_at as number | null,
    last_job_id: row.last_job_id as string | null,
    skipped: Number(row.skipped),
    missed: Number(row.missed),
    created_at: row.created_at as number,
  };
}

/** A `runs` row as a {@linkcode Run}. */
export function toRun(row: Row): Run {
  const started = row.started_at as number;
  const finished = row.finished_at as number | null;
  return {
    attempt: row.attempt as number,
    started_at: isoTime(started),
    finished_at: finished === null ? null : isoTime(finished),
    duration_ms: finished === null ? null : finished - started,
    outcome: row.outcome as RunOutcome | null,
    exit_code: row.exit_code as number | null,
    signal: row.signal as string | null,
    error: row.error as string | null,
    worker_id: row.worker_id as string | null,
    hook: typeof row.hook === "string" ? JSON.parse(row.hook) : null,
  };
}

/** Stored output as text (none is the empty string). */
export function text(bytes: unknown): string {
  return bytes instanceof Uint8Array ? decoder.decode(bytes) : "";
}

/**
 * The cursor after a page that ends with this job: its creation time and
 * insertion order (`seq`), the order of `jobList` (ties go newest first,
 * so `batch-30` follows `batch-31`, not `batch-3`).
 */
export function encodeCursor(createdAt: number, seq: number): string {
  return `${createdAt.toString(36)}.${seq.toString(36)}`;
}

/** A cursor read back, or `null` for one this store did not make. */
export function decodeCursor(cursor: string): { createdAt: number; seq: number } | null {
  const match = /^([0-9a-z]+)\.([0-9a-z]+)$/.exec(cursor);
  if (!match) return null;
  const createdAt = parseInt(match[1]!, 36);
  const seq = parseInt(match[2]!, 36);
  return Number.isFinite(createdAt) && Number.isFinite(seq) ? { createdAt, seq } : null;
}

/** A `workers` row as {@linkcode WorkerInfo}, with its running jobs; late if its heartbeat is before `lateBefore`. */
export function toWorker(row: Row, currentJobs: string[], lateBefore: number): WorkerInfo {
  return {
    id: row.id as string,
    pid: row.pid as number,
    host: row.host as string,
    started_at: isoTime(row.started_at as number),
    heartbeat_at: isoTime(row.heartbeat_at as number),
    count: row.count as number,
    queues: row.queues === null ? null : JSON.parse(row.queues as string),
    current_jobs: currentJobs,
    stop_requested: row.stop_requested as "graceful" | "force" | null,
    role: row.role as WorkerRole,
    clock_offset_ms: row.clock_offset_ms as number,
    late: (row.heartbeat_at as number) < lateBefore,
    proc_start: (row.proc_start as string | null | undefined) ?? null,
    pid_space: (row.pid_space as string | null | undefined) ?? null,
  };
}

/**
 * Queues from `queues` rows (`name, paused, concurrency`, the rate limit
 * with `rate_used`, `group_concurrency`) and job counts
 * (`queue, state, n`), merged and sorted by name (byte order).
 */
export function toQueues(settings: Row[], counts: Row[]): QueueInfo[] {
  const queues = new Map<string, QueueInfo>();
  const queue = (name: string): QueueInfo => {
    let info = queues.get(name);
    if (!info) {
      info = {
        name,
        counts: Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as QueueInfo["counts"],
        running: 0,
        paused: false,
        concurrency: 0,
        rate: null,
        group_concurrency: 0,
      };
      queues.set(name, info);
    }
    return info;
  };
  for (const row of settings) {
    const info = queue(row.name as string);
    info.paused = Boolean(row.paused);
    info.concurrency = row.concurrency as number;
    const limit = Number(row.rate_limit ?? 0);
    info.rate = limit > 0
      ? { limit, period_ms: Number(row.rate_period_ms), used: Number(row.rate_used ?? 0) }
      : null;
    info.group_concurrency = Number(row.group_concurrency ?? 0);
  }
  for (const row of counts) {
    queue(row.queue as string).counts[row.state as JobState] = row.n as number;
  }
  for (const info of queues.values()) info.running = info.counts.processing;
  return [...queues.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Per-queue health from two reads: waiting jobs (`queue`, `scheduled`,
 * `oldest_due`) and finished attempts (`queue`, `completed`, `failed`).
 */
export function toQueueHealth(waiting: Row[], finished: Row[]): QueueHealth[] {
  const queues = new Map<string, QueueHealth>();
  const queue = (name: string): QueueHealth => {
    let health = queues.get(name);
    if (!health) {
      health = { name, scheduled: 0, oldest_due_at: null, completed: 0, failed: 0 };
      queues.set(name, health);
    }
    return health;
  };
  for (const row of waiting) {
    const health = queue(row.queue as string);
    health.scheduled = Number(row.scheduled);
    health.oldest_due_at = row.oldest_due === null ? null : Number(row.oldest_due);
  }
  for (const row of finished) {
    const health = queue(row.queue as string);
    health.completed = Number(row.completed);
    health.failed = Number(row.failed);
  }
  return [...queues.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
