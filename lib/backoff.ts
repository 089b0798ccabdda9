/** Exponential backoff as pure functions; time and chance are always parameters. */

/** The settings backoff depends on. */
export interface BackoffOptions {
  /** `backoff_base`, at least 1. */
  base: number;
  /** `backoff_max` in seconds: the cap on any one delay. */
  max: number;
  /**
   * `backoff_jitter`, 0–1: every delay is spread uniformly within ±this
   * fraction (README "Flow control"), so jobs that failed together do not
   * retry together. 0 or absent: none.
   */
  jitter?: number | undefined;
}

/** A source of numbers uniform in [0, 1), like `Math.random`; injectable for tests. */
export type RandomSource = () => number;

/**
 * Seconds to wait after attempt `attempt` (1-based) failed:
 * `min(base ^ attempt, max)`, then spread by `jitter` (±that fraction).
 */
export function backoffSeconds(
  attempt: number,
  options: BackoffOptions,
  random: RandomSource = Math.random,
): number {
  const delay = Math.min(Math.pow(options.base, attempt), options.max);
  const jitter = options.jitter ?? 0;
  if (jitter <= 0) return delay;
  return delay * (1 + jitter * (2 * random() - 1));
}

/** When a job whose attempt `attempt` failed at `now` (epoch ms) runs again. */
export function nextRunAt(
  now: number,
  attempt: number,
  options: BackoffOptions,
  random: RandomSource = Math.random,
): number {
  return now + Math.round(backoffSeconds(attempt, options, random) * 1000);
}

/**
 * The backoff of one job: its own `backoff_base`/`backoff_max` where set,
 * else the settings; the jitter is always the setting's.
 */
export function jobBackoff(
  job: { backoff_base: number | null; backoff_max: number | null },
  config: { backoff_base: number; backoff_max: number; backoff_jitter: number },
): BackoffOptions {
  return {
    base: job.backoff_base ?? config.backoff_base,
    max: job.backoff_max ?? config.backoff_max,
    jitter: config.backoff_jitter,
  };
}
