/**
 * What the storage tests insert and finish: a fixed clock, a lease, a valid
 * job, and the end of an attempt. The conformance suite and both stores' own
 * tests build their data from these, so a new job field is added in one place.
 */
import type { NewJob } from "../../../lib/job.ts";
import type { RunFinish } from "../../../lib/storage/storage.ts";

/** A fixed "now" for every test: 2026-01-01T12:00:00.000Z. */
export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 0);

/** The lease every test claims with, in milliseconds. */
export const LEASE = 30_000;

/** A valid job to insert; due at T0 unless overridden. */
export function newJob(id: string, overrides: Partial<NewJob> = {}): NewJob {
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

/** The end of a claimed attempt; a success unless overridden. */
export function finishOf(
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
export function failure(nextRunAt: number, finishedAt = T0 + 1000): Partial<RunFinish> {
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
export function death(finishedAt = T0 + 1000): Partial<RunFinish> {
  return { outcome: "failed", exitCode: 1, error: "exit code 1", state: "dead", finishedAt };
}
