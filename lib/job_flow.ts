/**
 * The rules of job flow (README "Job flow") as pure functions both stores apply
 * inside their transactions: which dependencies a job may name, what an
 * active key means for a new job, and the messages a cascade leaves.
 */
import { ConflictError, NotFoundError } from "./errors.ts";
import { isFinalState, type JobState, type OnConflict } from "./job.ts";

/**
 * Checks one dependency of `jobId` as the store sees it (`null`: no such
 * job) and says whether it is still open (not yet completed). Unknown ids,
 * the job itself, and dead or cancelled jobs are refused.
 */
export function checkDependency(jobId: string, depId: string, state: JobState | null): boolean {
  if (depId === jobId) {
    throw new ConflictError(
      `Cannot enqueue job "${jobId}": it cannot depend on itself`,
      "remove its own id from `after`",
    );
  }
  if (state === null) {
    throw new NotFoundError(
      `Cannot enqueue job "${jobId}": dependency "${depId}" not found`,
      "enqueue the dependency first (earlier in the same batch works too)",
    );
  }
  if (state === "dead" || state === "cancelled") {
    throw new ConflictError(
      `Cannot enqueue job "${jobId}": dependency "${depId}" is ${state} and will never complete`,
      `retry "${depId}" first`,
    );
  }
  return state !== "completed";
}

/**
 * Checks one `after_any` dependency of `jobId` (`null`: no such job) and
 * says whether it is still open (not final). Unknown ids and the job itself
 * are refused; a dependency that already ended, whatever its outcome, is met.
 */
export function checkAnyDependency(
  jobId: string,
  depId: string,
  state: JobState | null,
): boolean {
  if (depId === jobId) {
    throw new ConflictError(
      `Cannot enqueue job "${jobId}": it cannot depend on itself`,
      "remove its own id from `after_any`",
    );
  }
  if (state === null) {
    throw new NotFoundError(
      `Cannot enqueue job "${jobId}": dependency "${depId}" not found`,
      "enqueue the dependency first (earlier in the same batch works too)",
    );
  }
  return !isFinalState(state);
}

/**
 * The dependencies of a new job as edges: `after` ones, then the
 * `after_any` ones not already named by `after` (`any` true).
 */
export function dependencyEdges(
  job: { after: string[] | null; after_any?: string[] | null | undefined },
): { id: string; any: boolean }[] {
  const after = distinctIds(job.after ?? []);
  const named = new Set(after);
  return [
    ...after.map((id) => ({ id, any: false })),
    ...distinctIds(job.after_any ?? []).filter((id) => !named.has(id)).map((id) => ({
      id,
      any: true,
    })),
  ];
}

/**
 * What to do with a new job whose key a final job still holds by its
 * `unique_for` window (README "Flow control"): "keep" leaves it out; a
 * finished job cannot be replaced, so "replace" and "fail" are conflicts.
 */
export function planWindowConflict(
  params: { jobId: string; key: string; holderId: string; until: number; onConflict: OnConflict },
): "keep" {
  const { jobId, key, holderId, until, onConflict } = params;
  if (onConflict === "keep") return "keep";
  throw new ConflictError(
    `Cannot enqueue job "${jobId}": key "${key}" is taken by job "${holderId}" until ${
      new Date(until).toISOString()
    } (unique_for)`,
    "use --on-conflict keep, or wait for the window to pass",
  );
}

/** Refuses to retry `jobId` while its dependency `depId` is dead or cancelled. */
export function checkRetryDependency(jobId: string, depId: string, state: JobState): void {
  if (state === "dead" || state === "cancelled") {
    throw new ConflictError(
      `Cannot retry job "${jobId}": dependency "${depId}" is ${state}`,
      `retry "${depId}" first`,
    );
  }
}

/** The error for making `jobId` active while `holderId` holds its key. */
export function keyHeld(jobId: string, key: string, holderId: string): ConflictError {
  return new ConflictError(
    `Cannot retry job "${jobId}": key "${key}" is held by job "${holderId}"`,
    `wait for "${holderId}" to finish, or cancel it`,
  );
}

/** The same ids in their first order, each once. */
export function distinctIds(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

/**
 * What to do with a new job whose key the active job `holder` holds:
 * leave it out ("keep") or cancel the holder and add it ("replace");
 * "fail", and "replace" of a running holder, are conflicts.
 */
export function planKeyConflict(
  params: {
    jobId: string;
    key: string;
    holderId: string;
    holderState: JobState;
    onConflict: OnConflict;
  },
): "keep" | "replace" {
  const { jobId, key, holderId, holderState, onConflict } = params;
  if (onConflict === "keep") return "keep";
  if (onConflict === "replace" && holderState !== "processing") return "replace";
  throw new ConflictError(
    `Cannot enqueue job "${jobId}": key "${key}" is held by job "${holderId}" (${holderState})`,
    onConflict === "replace"
      ? `job "${holderId}" is running; cancel it first, or wait for it to finish`
      : "use --on-conflict keep or replace, or wait for that job to finish",
  );
}

/** `last_error` of a job cancelled to make room for `newId`. */
export function replacedError(newId: string): string {
  return `replaced by ${newId}`;
}

/**
 * `last_error` of a blocked job cancelled because its dependency `depId`
 * ended `state` (with the dependency's own cascade message, if it was
 * cancelled by one, so the root cause stays in view).
 */
export function cascadeError(depId: string, state: JobState, depError: string | null): string {
  const cause = state === "dead" ? "is dead" : "was cancelled";
  // Only the root cause, however deep the chain: ids never hold ": ".
  const root = depError?.startsWith("dependency ") ? `: ${depError.split(": ").at(-1)}` : "";
  return `dependency "${depId}" ${cause}${root}`;
}
