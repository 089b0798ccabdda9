/**
 * The status document (`status --json`, `GET /api/stats`) and the
 * throughput series, composed the same way over any store: the window, the
 * buckets and the rates are rules of the product, not of a database.
 */
import { liveSince } from "./config.ts";
import { isoTime, type JobState } from "./job.ts";
import type { Storage, WorkerInfo } from "./storage/storage.ts";

/** The window of recent completions in `status`. */
export const THROUGHPUT_WINDOW_MS = 60_000;

/** Recent completions, for `status` and the dashboard. */
export interface Throughput {
  window_s: number;
  completed: number;
  failed: number;
  per_second: number;
}

/** The document `status --json` and `GET /api/stats` print. */
export interface Stats {
  db: string;
  counts: Record<JobState, number>;
  workers: WorkerInfo[];
  next_retry_at: string | null;
  throughput: Throughput;
}

/** One bar of the throughput chart. */
export interface ThroughputBucket {
  at: string;
  completed: number;
  failed: number;
}

/** Reads counts, live workers, next retry and throughput at `now` (the store's clock). */
export async function readStats(store: Storage, now: number): Promise<Stats> {
  const config = await store.configGetAll();
  const since = now - THROUGHPUT_WINDOW_MS;
  const [counts, workers, nextRetry, recent] = await Promise.all([
    store.jobCountByState(),
    store.workerList({ staleBefore: liveSince(config, now) }),
    store.jobNextRetryAt(),
    store.runFinishedCounts({ since, bucketMs: THROUGHPUT_WINDOW_MS }),
  ]);
  let completed = 0;
  let failed = 0;
  // A clock step may put a finish past `now`: it still counts as recent.
  for (const bucket of recent) {
    completed += bucket.completed;
    failed += bucket.failed;
  }
  return {
    db: store.location,
    counts,
    workers,
    next_retry_at: nextRetry === null ? null : isoTime(nextRetry),
    throughput: {
      window_s: THROUGHPUT_WINDOW_MS / 1000,
      completed,
      failed,
      per_second: Math.round((completed / (THROUGHPUT_WINDOW_MS / 1000)) * 100) / 100,
    },
  };
}

/**
 * Attempts finished per bucket of `bucketMs` from `since` up to `now`,
 * oldest first, empty buckets included.
 */
export async function readThroughput(
  store: Storage,
  params: { since: number; bucketMs: number; now: number },
): Promise<ThroughputBucket[]> {
  const { since, bucketMs, now } = params;
  const buckets = Math.max(1, Math.ceil((now - since) / bucketMs));
  const series = Array.from({ length: buckets }, (_, i) => ({
    at: isoTime(since + i * bucketMs),
    completed: 0,
    failed: 0,
  }));
  for (const row of await store.runFinishedCounts({ since, bucketMs })) {
    const entry = series[row.bucket];
    if (entry) {
      entry.completed = row.completed;
      entry.failed = row.failed;
    }
  }
  return series;
}
