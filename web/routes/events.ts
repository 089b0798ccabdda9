/**
 * `/api/events`: server-sent events for open pages, and the change feed
 * behind them. The feed reads only while a browser listens.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { readStats, type Stats } from "../../lib/stats.ts";
import type { Storage } from "../../lib/storage/storage.ts";
import { ChangeFeed, type Snapshot } from "../change_feed.ts";
import type { RouteContext } from "./_context.ts";
import { RECENT_JOBS } from "./pages.ts";

/** Longest time between change-feed reads while a browser listens (commits wake it sooner). */
export const CHANGE_POLL_MS = 1000;

/**
 * Makes the change feed for a store: stats plus the newest jobs,
 * fingerprinted, read when any process commits (the store's change watch)
 * and at least every {@linkcode CHANGE_POLL_MS}.
 */
export function storeChangeFeed(
  store: Storage,
  options: { now?: () => number; intervalMs?: number; minGapMs?: number } = {},
): ChangeFeed<Stats> {
  const now = options.now ?? (() => store.now());
  return new ChangeFeed<Stats>(async (): Promise<Snapshot<Stats>> => {
    const stats = await readStats(store, now());
    const recent = await store.jobList({ limit: RECENT_JOBS });
    const schedules = await store.scheduleList();
    // Any event (a progress write too) is news to a live page: the log's newest seq.
    const { latest } = await store.eventList({ after: Number.MAX_SAFE_INTEGER, limit: 1 });
    const key = JSON.stringify([
      stats.counts,
      // Heartbeats move every few seconds and change nothing a person sees.
      stats.workers.map(({ heartbeat_at: _, ...w }) => w),
      stats.next_retry_at,
      stats.throughput.completed,
      stats.throughput.failed,
      recent.jobs.map((j) => [j.id, j.state, j.attempts, j.updated_at]),
      // the schedules page: a pause, a fire or a skip anywhere
      schedules.map((s) => [s.name, s.paused, s.next_run_at, s.last_job_id, s.skipped, s.missed]),
      latest,
    ]);
    return { value: stats, key };
  }, {
    intervalMs: options.intervalMs ?? CHANGE_POLL_MS,
    minGapMs: options.minGapMs ?? 100,
    watch: (onChange) => store.watchChanges(onChange, { jobEnds: true }),
  });
}

/** The event stream: a `stats` event (the `status --json` document) whenever the feed changes. */
export function eventRoutes({ changes }: RouteContext): Hono {
  const app = new Hono();
  app.get("/", (c) =>
    streamSSE(c, async (stream) => {
      const subscription = changes.subscribe();
      stream.onAbort(() => subscription.close());
      // Reconnect quickly after the dashboard restarts.
      await stream.write("retry: 1000\n\n");
      while (!stream.aborted && !stream.closed) {
        const next = await subscription.next(15_000);
        if (next.type === "closed") break;
        if (next.type === "idle") await stream.write(": keep-alive\n\n");
        else await stream.writeSSE({ event: "stats", data: JSON.stringify(next.value) });
      }
      subscription.close();
    }));
  return app;
}
