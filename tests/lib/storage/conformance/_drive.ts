/**
 * Steps that drive a store into the states a case starts from, and read the
 * states back, with the store's own methods only.
 */
import assert from "node:assert/strict";
import type { JobState, NewJob } from "../../../../lib/job.ts";
import type { ClaimedJob, RunFinish, Storage } from "../../../../lib/storage/storage.ts";
import { death, failure, finishOf, LEASE, newJob, T0 } from "../_fixtures.ts";

/** Claims exactly one job and checks it is the one expected. */
export async function claimOne(
  store: Storage,
  workerId: string,
  expectedId: string,
  now = T0,
): Promise<ClaimedJob> {
  const claimed = await store.jobClaim({ workerId, queues: null, limit: 1, now, leaseMs: LEASE });
  assert.deepEqual(claimed.map((j) => j.id), [expectedId], "the claim took the expected job");
  return claimed[0]!;
}

/**
 * Inserts one job and drives it into `state` with the store's own methods.
 * Call it before inserting pending jobs that are due, so the claim takes this one.
 */
export async function addJobIn(
  store: Storage,
  id: string,
  state: JobState,
  options: { finishedAt?: number; overrides?: Partial<NewJob> } = {},
): Promise<void> {
  const finishedAt = options.finishedAt ?? T0 + 1000;
  await store.jobInsertMany({ jobs: [newJob(id, options.overrides)], now: T0 });
  if (state === "pending") return;
  const claimed = await claimOne(store, "w-setup", id);
  switch (state) {
    case "processing":
      return;
    case "completed":
      await store.runFinishMany({ finishes: [finishOf(claimed, "w-setup", { finishedAt })] });
      return;
    case "failed":
      await store.runFinishMany({
        finishes: [finishOf(claimed, "w-setup", failure(T0 + 3_600_000, finishedAt))],
      });
      return;
    case "dead":
      await store.runFinishMany({
        finishes: [finishOf(claimed, "w-setup", death(finishedAt))],
      });
      return;
    case "cancelled":
      await store.runFinishMany({
        finishes: [finishOf(claimed, "w-setup", {
          outcome: "cancelled",
          exitCode: null,
          signal: "SIGTERM",
          state: "cancelled",
          finishedAt,
        })],
      });
      return;
  }
}

/** Ids of every job (newest first), read page by page. */
export async function allIds(store: Storage, state?: JobState): Promise<string[]> {
  return (await store.jobList({ state, limit: 10_000 })).jobs.map((j) => j.id);
}

/** The state of job `id`, or `undefined` if there is no such job. */
export async function stateOf(store: Storage, id: string): Promise<JobState | undefined> {
  return (await store.jobGet({ id }))?.state;
}

/** A job in a queue of its own (`q-<id>`), so a test can claim exactly it. */
export function flowJob(
  id: string,
  after: string[] | null = null,
  overrides: Partial<NewJob> = {},
): NewJob {
  return newJob(id, { queue: `q-${id}`, after, ...overrides });
}

/** Claims job `id` from its own queue at `at` and ends its attempt in `state` then. */
export async function endJob(
  store: Storage,
  id: string,
  state: "completed" | "dead" | "cancelled",
  at: number,
): Promise<void> {
  const job = await store.jobGet({ id });
  assert.ok(job, `job "${id}" exists`);
  const claimed = await store.jobClaim({
    workerId: "w-flow",
    queues: [job.queue],
    limit: 1,
    now: at,
    leaseMs: LEASE,
  });
  assert.deepEqual(claimed.map((j) => j.id), [id], `the claim took "${id}"`);
  const overrides: Partial<RunFinish> = state === "completed"
    ? { finishedAt: at }
    : state === "dead"
    ? death(at)
    : {
      outcome: "cancelled",
      exitCode: null,
      signal: "SIGTERM",
      error: "cancelled",
      state: "cancelled",
      finishedAt: at,
    };
  const applied = await store.runFinishMany({
    finishes: [finishOf(claimed[0]!, "w-flow", overrides)],
  });
  assert.deepEqual(applied, [id], `the end of "${id}" applied`);
}

/** The states of `ids`, by id (`undefined` for a missing job). */
export async function statesOf(
  store: Storage,
  ids: string[],
): Promise<Record<string, JobState | undefined>> {
  const states: Record<string, JobState | undefined> = {};
  for (const id of ids) states[id] = await stateOf(store, id);
  return states;
}
