/** Assertions the conformance cases share. */
import assert from "node:assert/strict";
import { ConflictError } from "../../../../lib/errors.ts";
import { JOB_STATES, type JobState } from "../../../../lib/job.ts";
import type { Storage } from "../../../../lib/storage/storage.ts";
import { allIds } from "./_drive.ts";

/**
 * Asserts that calling `fn` fails as `check` expects. Synchronous throws are
 * caught too, so each test checks its own guarantee; that failures arrive as
 * rejected promises is checked once, by its own test.
 */
export async function assertRejects(
  fn: () => Promise<unknown>,
  check: ((error: unknown) => boolean) | (new (...args: never[]) => Error),
): Promise<void> {
  await assert.rejects(async () => await fn(), check);
}

/** Checks the kept counts against the jobs actually listed, and against `expected`. */
export async function assertCounts(
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

/** Asserts a ConflictError whose message matches `pattern`. */
export function conflict(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ConflictError, `expected a ConflictError, got ${error}`);
    assert.match(error.message, pattern);
    return true;
  };
}
