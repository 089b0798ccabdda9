/**
 * The pages: `/`, `/jobs`, `/jobs/:id`, `/dlq`, `/queues`, `/schedules`.
 * Each route reads its page's data and draws it whole, or, with the live
 * header, only its live region (see `assets/app.js`).
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { jobNotFound } from "../../lib/errors.ts";
import type { RunOutput } from "../../lib/job.ts";
import { scheduleView } from "../../lib/schedule.ts";
import { readStats, readThroughput } from "../../lib/stats.ts";
import type { BulkAction } from "../../lib/state.ts";
import type { Storage } from "../../lib/storage/storage.ts";
import type { FramedData } from "../pages/layout.tsx";
import * as pages from "../pages/mod.tsx";
import type { OverviewData } from "../pages/overview.tsx";
import type { BulkData } from "../pages/bulk.tsx";
import { filterParams, listParams } from "../request.ts";
import type { RouteContext } from "./_context.ts";

/** How many jobs the overview lists, and the change feed watches. */
export const RECENT_JOBS = 10;

/** The throughput chart: buckets of 30 s over the last 10 minutes. */
const CHART_BUCKET_MS = 30_000;
const CHART_BUCKETS = 20;

const LIVE_HEADER = "x-queuectl-live";
const COUNTS_HEADER = "X-Queuectl-Counts";

/** Everything the overview shows, read at `now`. */
export async function overviewData(store: Storage, now: number): Promise<OverviewData> {
  // Buckets aligned to the clock, so bars keep their place between refreshes.
  const since = Math.floor(now / CHART_BUCKET_MS) * CHART_BUCKET_MS -
    (CHART_BUCKETS - 1) * CHART_BUCKET_MS;
  const [stats, series, recent] = await Promise.all([
    readStats(store, now),
    readThroughput(store, { since, bucketMs: CHART_BUCKET_MS, now }),
    store.jobList({ limit: RECENT_JOBS }),
  ]);
  const config = await store.configGetAll();
  return { stats, series, bucketMs: CHART_BUCKET_MS, recent: recent.jobs, now, config };
}

/**
 * The filter bar's counts: per action, how many jobs it would change now,
 * and how many match in any state (cancel and delete cover every state
 * between them). `null` without a filter: actions need one.
 */
async function bulkData(
  store: Storage,
  query: URLSearchParams,
  now: number,
  back: string,
  actions: BulkAction[],
): Promise<BulkData | null> {
  const filter = filterParams(query, now);
  if (filter === null) return null;
  const wanted = [...new Set<BulkAction>([...actions, "cancel", "delete"])];
  const counts = Object.fromEntries(
    await Promise.all(
      wanted.map(async (action) =>
        [action, (await store.jobBulkCount({ action, filter, sample: 0 })).count] as const
      ),
    ),
  ) as Record<BulkAction, number>;
  const fields: [string, string][] = [];
  for (const name of ["state", "queue", "older_than", "q"]) {
    const value = query.get(name)?.trim();
    if (value) fields.push([name, value]);
  }
  for (const tag of query.getAll("tag")) if (tag.trim()) fields.push(["tag", tag.trim()]);
  return {
    matching: counts.cancel + counts.delete,
    counts: Object.fromEntries(actions.map((a) => [a, counts[a]])),
    fields,
    back,
  };
}

/** Answers with the whole page, or with its live region when the live header asks for it. */
function render<D extends FramedData>(c: Context, view: pages.PageView<D>, data: D) {
  c.header("Vary", "X-Queuectl-Live");
  if (!c.req.header(LIVE_HEADER)) return c.html(pages.renderPage(view, data));
  // The counts the region was rendered from, so the navigation's counts agree with it.
  c.header(COUNTS_HEADER, JSON.stringify(data.stats.counts));
  return c.html(pages.renderLive(view, data));
}

/** The page routes. */
export function pageRoutes({ store, now }: RouteContext): Hono {
  const app = new Hono();

  app.get("/", async (c) => render(c, pages.overviewPage, await overviewData(store, now())));

  app.get("/jobs", async (c) => {
    const url = new URL(c.req.url);
    const params = listParams(url.searchParams);
    const back = `${url.pathname}${url.search}`;
    const [result, stats, bulk] = await Promise.all([
      store.jobList(params),
      readStats(store, now()),
      bulkData(store, url.searchParams, now(), back, [
        "retry",
        "cancel",
        "delete",
        "hold",
        "release",
      ]),
    ]);
    return render(c, pages.jobsPage, {
      jobs: result.jobs,
      next: result.nextCursor,
      params: url.searchParams,
      back,
      now: now(),
      filtered: bulk !== null,
      filters: {
        state: params.state,
        queue: params.queue,
        q: params.search,
        tag: url.searchParams.getAll("tag").join(","),
        olderThan: url.searchParams.get("older_than") ?? undefined,
      },
      stats,
      bulk,
    });
  });

  app.get("/jobs/:id", async (c) => {
    const id = c.req.param("id");
    const job = await store.jobGetWithRuns({ id });
    if (!job) throw jobNotFound(id);
    const outputs = new Map<number, RunOutput>();
    for (const [index, hidden] of pages.outputRuns(job.runs)) {
      if (hidden) continue;
      const output = await store.runOutputGet({ id, run: index + 1 });
      if (output) outputs.set(index, output);
    }
    const stats = await readStats(store, now());
    return render(c, pages.jobPage, { job, outputs, now: now(), stats });
  });

  app.get("/dlq", async (c) => {
    const url = new URL(c.req.url);
    const params = { ...listParams(url.searchParams), state: "dead" as const };
    const query = new URLSearchParams(url.searchParams);
    query.delete("state");
    const filtered = filterParams(query, now()) !== null;
    if (filtered) query.set("state", "dead");
    const back = `${url.pathname}${url.search}`;
    const [result, stats, bulk] = await Promise.all([
      store.jobList(params),
      readStats(store, now()),
      filtered ? bulkData(store, query, now(), back, ["retry", "delete"]) : null,
    ]);
    return render(c, pages.dlqPage, {
      jobs: result.jobs,
      dead: stats.counts.dead,
      next: result.nextCursor,
      params: url.searchParams,
      now: now(),
      stats,
      filters: {
        state: undefined,
        queue: params.queue,
        q: params.search,
        tag: url.searchParams.getAll("tag").join(","),
        olderThan: url.searchParams.get("older_than") ?? undefined,
      },
      bulk,
    });
  });

  app.get("/queues", async (c) => {
    const [queues, stats] = await Promise.all([store.queueList(), readStats(store, now())]);
    return render(c, pages.queuesPage, { queues, stats });
  });

  app.get("/schedules", async (c) => {
    const [list, stats] = await Promise.all([store.scheduleList(), readStats(store, now())]);
    return render(c, pages.schedulesPage, { schedules: list.map(scheduleView), stats });
  });

  return app;
}
