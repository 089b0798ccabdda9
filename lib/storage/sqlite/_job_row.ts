/**
 * The parameters of a new job's row, shared by the three inserts: the plain
 * one (`jobs.ts`), the flow one (`flow.ts`) and a schedule's (`schedules.ts`).
 * Private to this folder; its own file so that `flow.ts` needs nothing from
 * `jobs.ts`, which calls it.
 */
import type { SQLInputValue } from "node:sqlite";
import type { NewJob } from "../../job.ts";

/** How many parameters {@linkcode setJobRow} writes. */
export const JOB_ROW_PARAMS = 13;

/** Writes the parameters of one job's row into `args` from `at`; returns `args`. */
export function setJobRow(
  args: SQLInputValue[],
  at: number,
  job: NewJob,
  now: number,
): SQLInputValue[] {
  args[at] = job.id;
  args[at + 1] = job.command;
  args[at + 2] = job.queue;
  args[at + 3] = job.priority;
  args[at + 4] = job.max_retries;
  args[at + 5] = job.timeout;
  args[at + 6] = job.env === null ? null : JSON.stringify(job.env);
  args[at + 7] = job.cwd;
  args[at + 8] = now;
  args[at + 9] = now;
  args[at + 10] = job.run_at;
  args[at + 11] = job.retry_on === null ? null : JSON.stringify(job.retry_on);
  // In the row itself: set by an UPDATE after the insert it would read as an `edited` event.
  args[at + 12] = job.on_finish ?? null;
  return args;
}
