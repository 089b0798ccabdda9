/**
 * The status document (`status --json`, `GET /api/stats`) and the
 * throughput series, composed the same way over any store: the window, the
 * buckets and the rates are rules of the product, not of a database.
 */
import { type Config, lateSince, liveSince } from "./config.ts";
import { type EventType, FINISH_TYPES } from "./event.ts";
import { isoTime, type JobState } from "./job.ts";
import type { QueueRate, Storage, WorkerInfo } from "./storage/storage.ts";

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
  /** Where the data lives: a path, or a URL without its password. */
  db: string;
  /** The database engine and version: `SQLite 3.50.4`, `PostgreSQL 15.18`. */
  engine: string;
  counts: Record<JobState, number>;
  workers: WorkerInfo[];
  next_retry_at: string | null;
  throughput: Throughput;
  /** Rate-limited queues and how full their window is (README "Flow control"). */
  rate_limits: QueueRate[];
  /** How far webhook delivery lags (README "Webhooks"); `null` when `webhook_url` is unset. */
  webhook?: WebhookLag | null;
}

/** Webhook delivery's lag: the cursor, the newest event, the oldest event still to send. */
export interface WebhookLag {
  delivered_through: number;
  latest_seq: number;
  /** When the oldest event not yet delivered happened; `null` when none waits. */
  oldest_pending_at: string | null;
  /** Seconds between that event and `now`; 0 when none waits. */
  lag_s: number;
}

/** Webhook delivery's lag at `now`, or `null` when webhooks are off. */
async function readWebhookLag(
  store: Storage,
  config: Config,
  now: number,
): Promise<WebhookLag | null> {
  if (!config.webhook_url) return null;
  const cursor = await store.eventMarkGet({ name: "webhook" });
  const listed = config.webhook_events.split(",").map((t) => t.trim()).filter(Boolean);
  const types = (listed.length > 0 ? listed : [...FINISH_TYPES]) as EventType[];
  const page = await store.eventList({ after: cursor, limit: 1, types });
  const oldest = page.events[0];
  return {
    delivered_through: cursor,
    latest_seq: page.latest,
    oldest_pending_at: oldest ? oldest.at : null,
    lag_s: oldest ? Math.max(0, Math.round((now - Date.parse(oldest.at)) / 1000)) : 0,
  };
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
  const [counts, workers, nextRetry, recent, rates] = await Promise.all([
    store.jobCountByState(),
    store.workerList({ staleBefore: liveSince(config, now), lateBefore: lateSince(config, now) }),
    store.jobNextRetryAt(),
    store.runFinishedCounts({ since, bucketMs: THROUGHPUT_WINDOW_MS }),
    store.queueRateList({ now }),
  ]);
  const webhook = await readWebhookLag(store, config, now);
  let completed = 0;
  let failed = 0;
  // A clock step may put a finish past `now`: it still counts as recent.
  for (const bucket of recent) {
    completed += bucket.completed;
    failed += bucket.failed;
  }
  return {
    db: store.location,
    engine: store.engine,
    counts,
    workers,
    next_retry_at: nextRetry === null ? null : isoTime(nextRetry),
    throughput: {
      window_s: THROUGHPUT_WINDOW_MS / 1000,
      completed,
      failed,
      per_second: Math.round((completed / (THROUGHPUT_WINDOW_MS / 1000)) * 100) / 100,
    },
    rate_limits: rates,
    ...(webhook ? { webhook } : {}),
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

/** The live workers of one host, as `status` and the dashboard group them. */
export interface HostWorkers {
  host: string;
  /** The host's clock minus the store's, from its latest heartbeat. */
  clock_offset_ms: number;
  workers: WorkerInfo[];
}

/** Groups workers by host id, hosts in the order their first worker started. */
export function workersByHost(workers: WorkerInfo[]): HostWorkers[] {
  const hosts = new Map<string, HostWorkers>();
  for (const w of workers) {
    const entry = hosts.get(w.host) ??
      { host: w.host, clock_offset_ms: w.clock_offset_ms, workers: [] };
    const latest = entry.workers.reduce(
      (a, b) => (a && a.heartbeat_at >= b.heartbeat_at ? a : b),
      undefined as WorkerInfo | undefined,
    );
    if (!latest || w.heartbeat_at >= latest.heartbeat_at) entry.clock_offset_ms = w.clock_offset_ms;
    entry.workers.push(w);
    hosts.set(w.host, entry);
  }
  return [...hosts.values()];
}

/** A clock offset as `+12 ms` / `-3 ms` / `±0 ms`. */
export function formatOffset(ms: number): string {
  return ms === 0 ? "±0 ms" : `${ms > 0 ? "+" : "-"}${Math.abs(ms)} ms`;
}
