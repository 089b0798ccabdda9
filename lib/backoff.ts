/** Exponential backoff as pure functions; time is always a parameter. */

/** The settings backoff depends on. */
export interface BackoffOptions {
  /** `backoff_base`, at least 1. */
  base: number;
  /** `backoff_max` in seconds: the cap on any one delay. */
  max: number;
}

/** Seconds to wait after attempt `attempt` (1-based) failed: `min(base ^ attempt, max)`. */
export function backoffSeconds(attempt: number, options: BackoffOptions): number {
  return Math.min(Math.pow(options.base, attempt), options.max);
}

/** When a job whose attempt `attempt` failed at `now` (epoch ms) runs again. */
export function nextRunAt(now: number, attempt: number, options: BackoffOptions): number {
  return now + Math.round(backoffSeconds(attempt, options) * 1000);
}
