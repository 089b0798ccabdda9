/**
 * The job state machine as pure functions: which transitions are legal and
 * what an attempt's outcome leads to. Storage applies the results; nothing
 * here reads a clock or a database.
 */
import { type BackoffOptions, nextRunAt } from "./backoff.ts";
import { ConflictError } from "./errors.ts";
import {
  FINAL_STATES,
  HOLDABLE_STATES,
  type HoldableState,
  isFinalState,
  JOB_STATES,
  type JobState,
  type RetryOn,
  type RunOutcome,
} from "./job.ts";

/** Every legal transition; anything else is a bug or a conflict. */
const TRANSITIONS: Record<JobState, readonly JobState[]> = {
  // held by `hold` (pending, blocked and failed alike)
  pending: ["processing", "cancelled", "held"],
  // pending when its last dependency completes; cancelled with a dependency
  blocked: ["pending", "cancelled", "held"],
  // by `release`: back to the state it was held from (blocked → pending
  // when its dependencies completed meanwhile); cancelled by `cancel`
  held: ["pending", "blocked", "failed", "cancelled"],
  // failed/dead/completed after a run; pending when a run is interrupted
  // without counting (forced stop); cancelled when stopped by `cancel`.
  processing: ["completed", "failed", "dead", "pending", "cancelled"],
  failed: ["processing", "pending", "cancelled", "dead", "held"],
  dead: ["pending"],
  completed: [],
  // by `retry`: blocked while a dependency is still open
  cancelled: ["pending", "blocked"],
};

/** Whether a job may go from `from` to `to`. */
export function canTransition(from: JobState, to: JobState): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Whether `retry` applies to a job in this state: one that a run or a stop
 * left behind (failed, dead, cancelled) and that may become pending again.
 * Read from the transitions, so the dashboard's buttons and the CLI agree.
 */
export function canRetry(state: JobState): boolean {
  return canTransition("processing", state) && canTransition(state, "pending");
}

/**
 * Whether `cancel` applies to a job in this state (pending, blocked, failed,
 * processing): any state that may become cancelled. A processing job is
 * stopped by its worker first (see {@linkcode planCancel}).
 */
export function canCancel(state: JobState): boolean {
  return canTransition(state, "cancelled");
}

/**
 * Whether "run now" applies to a job in this state: only a pending job
 * waits for its due time (a blocked one waits for its dependencies, a
 * failed one for its retry, which `retry` does not cut short either).
 */
export function canRunNow(state: JobState): boolean {
  return state === "pending";
}

/** The refusal of "run now" for a job in `state`, when {@linkcode canRunNow} says no. */
export function runNowRefused(id: string, state: JobState): ConflictError {
  return new ConflictError(
    `Cannot run job "${id}" now: job is ${state}`,
    "only a pending job waits for its time",
  );
}

/** What a finished attempt leads to. `next_run_at` is set only for `failed`. */
export interface RunDecision {
  state: "completed" | "failed" | "dead" | "cancelled";
  next_run_at: number | null;
  /**
   * Present when `retry_on` kept a failure from being retried: why, for the
   * attempt's error and `last_error` (e.g. `exit 2 is not in retry_on [75]; not retried`).
   */
  notRetried?: string;
}

/** The inputs of {@linkcode decideAfterRun}. */
export interface DecideAfterRunParams {
  outcome: RunOutcome;
  /** The 1-based number of the attempt that just ended. */
  attempt: number;
  /** Retries allowed after the first attempt. */
  maxRetries: number;
  now: number;
  backoff: BackoffOptions;
  /** The job's `retry_on`: the failures that are retried; absent or `null` retries every one. */
  retryOn?: readonly RetryOn[] | null | undefined;
  /** The attempt's exit code (`null` when it had none: a signal, a timeout, a failed start). */
  exitCode?: number | null | undefined;
}

/**
 * Why `retry_on` keeps this failure from being retried, or `null` when it
 * may be retried. Only the job's own failures are judged: an exit code must
 * be listed, a timeout needs `"timeout"`; a death by a signal or a failed
 * start has no exit code to match, so it is not retried. An interruption
 * (the worker died, its lease ran out) is not the job's doing and is
 * retried as always.
 */
export function retryOnRefusal(
  outcome: RunOutcome,
  exitCode: number | null,
  retryOn: readonly RetryOn[],
): string | null {
  const listed = `retry_on ${JSON.stringify(retryOn)}`;
  switch (outcome) {
    case "failed":
      if (exitCode === null) {
        return `a death by a signal has no exit code in ${listed}; not retried`;
      }
      return retryOn.includes(exitCode)
        ? null
        : `exit ${exitCode} is not in ${listed}; not retried`;
    case "timed_out":
      return retryOn.includes("timeout") ? null : `"timeout" is not in ${listed}; not retried`;
    case "spawn_failed":
      return `a failed start has no exit code in ${listed}; not retried`;
    case "interrupted":
    case "succeeded":
    case "cancelled":
      return null;
    default: {
      const never: never = outcome;
      throw new Error(`Unknown outcome "${never}"`);
    }
  }
}

/**
 * What a job becomes after attempt k ends: completed on success; on a
 * failure, `failed` with a retry after `min(base^k, max)` seconds while
 * k <= max_retries, else `dead` (the DLQ). With `retry_on`, a failure it
 * does not list is `dead` at once, saying why (`notRetried`).
 */
export function decideAfterRun(params: DecideAfterRunParams): RunDecision {
  switch (params.outcome) {
    case "succeeded":
      return { state: "completed", next_run_at: null };
    case "cancelled":
      return { state: "cancelled", next_run_at: null };
    case "failed":
    case "timed_out":
    case "spawn_failed":
    case "interrupted": {
      const refusal = params.retryOn
        ? retryOnRefusal(params.outcome, params.exitCode ?? null, params.retryOn)
        : null;
      if (refusal !== null) return { state: "dead", next_run_at: null, notRetried: refusal };
      if (params.attempt <= params.maxRetries) {
        return {
          state: "failed",
          next_run_at: nextRunAt(params.now, params.attempt, params.backoff),
        };
      }
      return { state: "dead", next_run_at: null };
    }
    default: {
      const never: never = params.outcome;
      throw new Error(`Unknown outcome "${never}"`);
    }
  }
}

/** What a forced stop leads to: see {@linkcode decideAfterForcedStop}. */
export interface ForcedStopDecision {
  state: "pending";
  next_run_at: number;
  /** The attempt is not counted against the job's retries. */
  uncountAttempt: true;
}

/**
 * A forced stop (a second signal, `worker stop --force`) is the operator's
 * doing, not the job's: the attempt does not count and the job waits to
 * run again at once.
 */
export function decideAfterForcedStop(now: number): ForcedStopDecision {
  return { state: "pending", next_run_at: now, uncountAttempt: true };
}

/** What `retry` does to a job: the new state and whether attempts reset. */
export interface RetryPlan {
  state: "pending";
  resetAttempts: boolean;
}

/**
 * `retry` on a failed job runs it now within its budget (attempts kept); on a
 * dead job it starts over (attempts reset), as `dlq retry` does; a cancelled
 * job starts over too (the store makes it `blocked` while a dependency is
 * open). Any other state is a conflict that names the state; with `dlqOnly`
 * (`dlq retry`) so is every state but dead.
 */
export function planRetry(
  id: string,
  state: JobState,
  options: { dlqOnly?: boolean | undefined } = {},
): RetryPlan {
  if (options.dlqOnly && state !== "dead") {
    throw new ConflictError(
      `Cannot retry job "${id}" from the DLQ: job is ${state}`,
      state === "failed" ? "use `queuectl retry` for failed jobs" : "only dead jobs are in the DLQ",
    );
  }
  if (!canRetry(state)) {
    throw new ConflictError(
      `Cannot retry job "${id}": job is ${state}`,
      "only failed, dead and cancelled jobs can be retried",
    );
  }
  return { state: "pending", resetAttempts: state !== "failed" };
}

/**
 * `cancel` stops pending, blocked and failed jobs at once; a processing job
 * is cancelled by its worker (returns "stop-first"). Finished jobs conflict.
 */
export function planCancel(id: string, state: JobState): "cancel" | "stop-first" {
  if (!canCancel(state)) {
    throw new ConflictError(
      `Cannot cancel job "${id}": job is ${state}`,
      "only pending, blocked, failed and processing jobs can be cancelled",
    );
  }
  return state === "processing" ? "stop-first" : "cancel";
}

/** Whether `hold` applies to a job in this state: a waiting one (pending, blocked, failed). */
export function canHold(state: JobState): state is HoldableState {
  return canTransition(state, "held");
}

/** Whether `release` applies to a job in this state: only a held one. */
export function canRelease(state: JobState): boolean {
  return state === "held";
}

/** Whether `edit` applies: a job that is not running and not final (pending, blocked, failed, held). */
export function canEdit(state: JobState): boolean {
  return state !== "processing" && !isFinalState(state);
}

/** Whether `delete` applies: final jobs only (others are cancelled first). */
export function canDelete(state: JobState): boolean {
  return isFinalState(state);
}

/** `hold` of a job that is not waiting is a conflict naming its state. */
export function planHold(id: string, state: JobState): HoldableState {
  if (!canHold(state)) {
    throw new ConflictError(
      `Cannot hold job "${id}": job is ${state}`,
      `only ${HOLDABLE_STATES.join(", ")} jobs can be held`,
    );
  }
  return state;
}

/** `release` of a job that is not held is a conflict naming its state. */
export function planRelease(id: string, state: JobState): void {
  if (!canRelease(state)) {
    throw new ConflictError(
      `Cannot release job "${id}": job is ${state}`,
      "only held jobs can be released",
    );
  }
}

/**
 * Where `release` puts a job back: the state it was held from, except that
 * a blocked job whose dependencies all completed meanwhile is pending (and
 * a pending or failed one stays as it was). Its due time is `max(due, now)`:
 * a due time that passed while it was held means now.
 */
export function planReleaseTo(
  heldFrom: HoldableState,
  openDependencies: number,
  dueAt: number | null,
  now: number,
): { state: HoldableState; next_run_at: number } {
  const state = heldFrom === "blocked" && openDependencies === 0 ? "pending" : heldFrom;
  return { state, next_run_at: Math.max(dueAt ?? now, now) };
}

/** `edit` of a running or final job is a conflict naming its state. */
export function planEdit(id: string, state: JobState): void {
  if (!canEdit(state)) {
    throw new ConflictError(
      `Cannot edit job "${id}": job is ${state}`,
      state === "processing"
        ? "cancel it first, or wait until it ends"
        : "only pending, blocked, failed and held jobs can be edited",
    );
  }
}

/** `delete` of a job that is not final is a conflict naming its state. */
export function planDelete(id: string, state: JobState): void {
  if (!canDelete(state)) {
    throw new ConflictError(
      `Cannot delete job "${id}": job is ${state}`,
      `only ${FINAL_STATES.join(", ")} jobs can be deleted; cancel it first`,
    );
  }
}

/** The actions that take a filter instead of ids (README "Operating a queue"). */
export const BULK_ACTIONS = ["cancel", "retry", "delete", "hold", "release"] as const;

/** An action by filter. */
export type BulkAction = typeof BULK_ACTIONS[number];

/**
 * The states an action by filter applies to, read from the rules above, so
 * a filter never touches a job the same action by id would refuse.
 */
export function bulkStates(action: BulkAction): JobState[] {
  const applies: Record<BulkAction, (state: JobState) => boolean> = {
    cancel: canCancel,
    retry: canRetry,
    delete: canDelete,
    hold: canHold,
    release: canRelease,
  };
  return JOB_STATES.filter(applies[action]);
}
