/**
 * The dashboard as a hono app over {@linkcode Storage}: the wiring only.
 * No socket here (`serve.ts` wires it to `Deno.serve`), so tests call
 * `app.request(new Request(...))`.
 *
 * Every request gets the security headers and passes the access check
 * (`access.ts`); then the routes, one module per area under `routes/`:
 * the pages, the JSON API, the event stream, `/metrics` and the static
 * files. Typed errors become HTTP statuses in one error handler
 * (`respond.ts`), as a page or as JSON by what the request asked for.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { jobNotFound } from "../lib/errors.ts";
import type { RunOutput } from "../lib/job.ts";
import { scheduleView } from "../lib/schedule.ts";
import { readStats, readThroughput, type Stats } from "../lib/stats.ts";
import type { Storage } from "../lib/storage/storage.ts";
import { accessCheck } from "./access.ts";
import type { ChangeFeed } from "./change_feed.ts";
import * as pages from "./pages/mod.tsx";
import { outputRuns } from "./pages/job.tsx";
import { listParams } from "./request.ts";
import { handleError, handleNotFound } from "./respond.ts";
import type { RouteContext } from "./routes/_context.ts";
import { apiRoutes } from "./routes/api.ts";
import { assetRoutes } from "./routes/assets.ts";
import { eventRoutes, storeChangeFeed } from "./routes/events.ts";
import { metricsRoutes } from "./routes/metrics.ts";

export { storeChangeFeed } from "./routes/events.ts";

/** How many jobs the overview lists, and the change feed watches. */
export const RECENT_JOBS = 10;

const LIVE_HEADER = "x-queuectl-live";
const COUNTS_HEADER = "X-Queuectl-Counts";

/** What the app needs; everything else it derives. */
export interface HandlerDeps {
  /** The store every handler reads and writes through. */
  store: Storage;
  /** The access token. */
  token: string;
  /** The address the server is bound to, for the `Host` and `Origin` checks. */
  hostname: string;
  /** The port the server listens on. */
  port: number;
  /** Called after the API added or retried jobs (the in-process workers claim at once). */
  onJobsChanged?: () => void;
  /** The clock; the store's unless a test fixes it. */
  now?: () => number;
  /** The change feed behind `/api/events`; one is made when absent. */
  changes?: ChangeFeed<Stats>;
}

/** The throughput chart: buckets of 30 s over the last 10 minutes. */
const CHART_BUCKET_MS = 30_000;
const CHART_BUCKETS = 20;

/** Everything the overview shows, read at `now`. */
export async function overviewData(store: Storage, now: number): Promise<pages.OverviewData> {
  // Buckets aligned to the clock, so bars keep their place between refreshes.
  const since = Math.floor(now / CHART_BUCKET_MS) * CHART_BUCKET_MS -
    (CHART_BUCKETS - 1) * CHART_BUCKET_MS;
  const [stats, series, recent] = await Promise.all([
    readStats(store, now),
    readThroughput(store, { since, bucketMs: CHART_BUCKET_MS, now }),
    store.jobList({ limit: RECENT_JOBS }),
  ]);
  return { stats, series, bucketMs: CHART_BUCKET_MS, recent: recent.jobs, now };
}

/** Headers for every response, errors and refusals included. */
const securityHeaders = createMiddleware(async (c, next) => {
  await next();
  c.header("Content-Security-Policy", pages.csp);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("X-Frame-Options", "DENY");
  c.header("Referrer-Policy", "no-referrer");
  if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
});

/** Builds the dashboard app. */
export function createApp(deps: HandlerDeps): Hono {
  const { store } = deps;
  const now = deps.now ?? (() => store.now());
  const changes = deps.changes ?? storeChangeFeed(store, { now });
  const ctx: RouteContext = {
    store,
    now,
    changes,
    changed(jobsAdded) {
      if (jobsAdded) deps.onJobsChanged?.();
      changes.poke();
    },
  };

  const app = new Hono();
  app.use(securityHeaders);
  app.use(accessCheck(deps));
  app.onError(handleError);
  app.notFound(handleNotFound);

  app.route("/assets", assetRoutes());

  // ----- pages; with the live header only the live region is sent (see assets/app.js)

  type Render = () => string | Promise<string>;
  const page = (c: Context, stats: Stats, full: Render, live: Render) => {
    c.header("Vary", "X-Queuectl-Live");
    if (!c.req.header(LIVE_HEADER)) return c.html(full());
    // The counts the region was rendered from, so the navigation's counts agree with it.
    c.header(COUNTS_HEADER, JSON.stringify(stats.counts));
    return c.html(live());
  };

  app.get("/", async (c) => {
    const data = await overviewData(store, now());
    const config = await store.configGetAll();
    return page(c, data.stats, () => pages.overview(data, config), () => pages.overviewLive(data));
  });

  app.get("/jobs", async (c) => {
    const url = new URL(c.req.url);
    const params = listParams(url.searchParams);
    const [result, stats] = await Promise.all([store.jobList(params), readStats(store, now())]);
    const data = {
      jobs: result.jobs,
      next: result.nextCursor,
      params: url.searchParams,
      back: `${url.pathname}${url.search}`,
      now: now(),
      filtered: !!(params.state || params.queue || params.search),
      filters: { state: params.state, queue: params.queue, q: params.search },
      stats,
    };
    return page(c, stats, () => pages.jobs(data), () => pages.jobsLive(data));
  });

  app.get("/jobs/:id", async (c) => {
    const id = c.req.param("id");
    const job = await store.jobGetWithRuns({ id });
    if (!job) throw jobNotFound(id);
    const outputs = new Map<number, RunOutput>();
    for (const [index, hidden] of outputRuns(job.runs)) {
      if (hidden) continue;
      const output = await store.runOutputGet({ id, run: index + 1 });
      if (output) outputs.set(index, output);
    }
    const stats = await readStats(store, now());
    const data = { job, outputs, now: now(), stats };
    return page(c, stats, () => pages.job(data), () => pages.jobLive(data));
  });

  app.get("/dlq", async (c) => {
    const url = new URL(c.req.url);
    const params = { ...listParams(url.searchParams), state: "dead" as const };
    const [result, stats] = await Promise.all([store.jobList(params), readStats(store, now())]);
    const data = {
      jobs: result.jobs,
      dead: stats.counts.dead,
      next: result.nextCursor,
      params: url.searchParams,
      now: now(),
      stats,
    };
    return page(c, stats, () => pages.dlq(data), () => pages.dlqLive(data));
  });

  app.get("/queues", async (c) => {
    const [queues, stats] = await Promise.all([store.queueList(), readStats(store, now())]);
    const data = { queues, stats };
    return page(c, stats, () => pages.queues(data), () => pages.queuesLive(data));
  });

  app.get("/schedules", async (c) => {
    const [list, stats] = await Promise.all([store.scheduleList(), readStats(store, now())]);
    const data = { schedules: list.map(scheduleView), stats };
    return page(c, stats, () => pages.schedules(data), () => pages.schedulesLive(data));
  });

  app.route("/api/events", eventRoutes(ctx));
  app.route("/api", apiRoutes(ctx));
  app.route("/metrics", metricsRoutes(ctx));
  return app;
}
