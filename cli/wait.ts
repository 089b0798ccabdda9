/**
 * `queuectl wait <id>... [--timeout D]`: waits until every job is final
 * (completed, dead, cancelled); exit 0 only when all completed (README "Job flow").
 * Also the second half of `enqueue --wait`.
 *
 * It sleeps on the store's change wake-ups (`watchChanges`), re-reading
 * only the jobs still open, with a slow re-read as a backstop for a missed
 * wake-up; never a busy loop.
 */
import { ConflictError, NotFoundError, UsageError } from "../lib/errors.ts";
import { isFinalState, type Job } from "../lib/job.ts";
import { parseDuration } from "../lib/job_input.ts";
import type { Storage } from "../lib/storage/storage.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";

/** Longest sleep between re-reads when no wake-up comes (one could be missed). */
export const WAIT_BACKSTOP_MS = 1000;

/** The most ids read in one `jobGetMany`. */
const READ_CHUNK = 1000;

/** How many jobs an error line names before it says how many more. */
const NAMED = 10;

/** Options of `wait`, as given on the command line. */
export interface WaitOptions {
  timeout?: string | undefined;
}

/** `--timeout` in milliseconds, `undefined` when absent; exit 2 when it is not a duration. */
export function parseWaitTimeout(
  value: string | undefined,
  flag = "--timeout",
): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === null) {
    throw new UsageError(
      `Invalid ${flag} "${value}"`,
      'use seconds or parts like "90s", "5m", "1h30m"',
    );
  }
  return ms;
}

/** How a wait ended: every job as last read, and the ids still open when time ran out. */
export interface WaitResult {
  jobs: Job[];
  /** Ids not final when `timeoutMs` passed (empty when all are final). */
  open: string[];
}

async function readJobs(store: Storage, ids: string[]): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < ids.length; i += READ_CHUNK) {
    jobs.push(...await store.jobGetMany({ ids: ids.slice(i, i + READ_CHUNK) }));
  }
  return jobs;
}

function listed(items: string[]): string {
  const more = items.length - NAMED;
  return items.slice(0, NAMED).join(", ") + (more > 0 ? ` and ${more} more` : "");
}

/**
 * Waits until every job of `ids` is final, or `timeoutMs` passes. An id
 * that names no job is a NotFoundError before any waiting (and a job
 * deleted while waited for is one too).
 */
export async function waitForJobs(
  store: Storage,
  ids: string[],
  timeoutMs?: number,
): Promise<WaitResult> {
  const unique = [...new Set(ids)];
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  const latest = new Map<string, Job>();
  // Watch before the first read, so a change between the two is not missed.
  let dirty = false;
  let wake = () => {};
  const watch = store.watchChanges(() => {
    dirty = true;
    wake();
  }, { jobEnds: true });
  try {
    let open = unique;
    for (;;) {
      dirty = false;
      const read = await readJobs(store, open);
      for (const job of read) latest.set(job.id, job);
      if (read.length < open.length) {
        const found = new Set(read.map((job) => job.id));
        const gone = open.filter((id) => !found.has(id)).map((id) => `"${id}"`);
        throw new NotFoundError(
          `${gone.length === 1 ? "Job" : "Jobs"} ${listed(gone)} not found`,
          "see `queuectl list` for job ids",
        );
      }
      open = open.filter((id) => !isFinalState(latest.get(id)!.state));
      if (open.length === 0) break;
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (dirty) continue;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, Math.min(WAIT_BACKSTOP_MS, left));
      });
      clearTimeout(timer);
      wake = () => {};
    }
    return { jobs: unique.map((id) => latest.get(id)!), open };
  } finally {
    watch.close();
  }
}

/**
 * The error for a wait that did not end with every job completed: the jobs
 * still open at the timeout, else each job that ended dead or cancelled
 * with its last error; `null` when all completed.
 */
export function waitFailure(result: WaitResult, timeoutMs?: number): ConflictError | null {
  const total = result.jobs.length;
  const of = (n: number) => `${n} of ${total} job${total === 1 ? "" : "s"}`;
  if (result.open.length > 0) {
    const byId = new Map(result.jobs.map((job) => [job.id, job]));
    const names = result.open.map((id) => `"${id}" (${byId.get(id)?.state ?? "gone"})`);
    return new ConflictError(
      `Timed out after ${(timeoutMs ?? 0) / 1000} s: ${of(result.open.length)} still open: ${
        listed(names)
      }`,
      "wait longer with --timeout, or see `queuectl status`",
    );
  }
  const failed = result.jobs.filter((job) => job.state !== "completed");
  if (failed.length === 0) return null;
  const names = failed.map((job) =>
    `"${job.id}" ${job.state}${job.last_error ? ` (${job.last_error})` : ""}`
  );
  return new ConflictError(`${of(failed.length)} did not complete: ${listed(names)}`);
}

/**
 * Prints the outcome of a wait and throws when not every job completed:
 * with `json` the array of jobs first (also on failure), then the error.
 */
export function reportWait(
  ctx: CliContext,
  result: WaitResult,
  json: boolean,
  timeoutMs?: number,
): void {
  if (json) printJson(ctx, result.jobs);
  const failure = waitFailure(result, timeoutMs);
  if (failure) throw failure;
}

/** `wait <id>... [--timeout D] [--json]`. */
export async function wait(
  ctx: CliContext,
  ids: string[],
  options: WaitOptions,
  json: boolean,
): Promise<void> {
  const timeoutMs = parseWaitTimeout(options.timeout);
  const result = await withStorage(ctx, (store) => waitForJobs(store, ids, timeoutMs));
  reportWait(ctx, result, json, timeoutMs);
}
