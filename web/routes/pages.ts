/**
 * The pages: `/`, `/jobs`, `/jobs/:id`, `/dlq`, `/queues`, `/schedules`.
 * Each route reads its page's data and draws it whole, or, with the live
 * header, only its live region (see `assets/app.js`).
 */
import type { Context } from "hono";
import { Hono } from "hono";
import type { RunOutput } from "../../lib/job.ts";
import { scheduleView } from "../../lib/schedule.ts";
import { readStats, readThroughput } from "../../lib/stats.ts";
import type { BulkAction } from "../../lib/state.ts";
import type { Storage } from "../../lib/storage/storage.ts";
import type { FramedData } from "../pages/layout.tsx";
import * as pages from "../pages/mod.tsx";
import type { OverviewData } from "../pages/overview.tsx";
import type { BulkData } from "../pages/bulk.tsx";
import { filterParams, listParams, SCHEDULED, wantsHtml } from "../request.ts";
import type { RouteContext } from "./_context.ts";

/** How many jobs the overview lists, and the change feed watches. */
export const RECENT_JOBS = 10;

/** The queues page's throughput: attempts finished over the last 10 minutes. */
export const QUEUE_WINDOW_MS = 600_000;

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

/** A "not found" page in the dashboard's frame, with its navigation. */
export async function missing(
  c: Context,
  store: Storage,
  now: number,
  answer: Omit<pages.MissingData, "stats" | "now">,
): Promise<Response> {
  const stats = await readStats(store, now);
  c.status(404);
  return render(c, pages.missingPage, { ...answer, stats, now });
}

/** The page routes. */
export function pageRoutes({ store, now }: RouteContext): Hono {
  const app = new Hono();

  app.get("/", async (c) => render(c, pages.overviewPage, await overviewData(store, now())));

  app.get("/jobs", async (c) => {
    const url = new URL(c.req.url);
    const t = now();
    const params = listParams(url.searchParams, t);
    const scheduled = url.searchParams.get("state") === SCHEDULED;
    const back = `${url.pathname}${url.search}`;
    const [result, stats, config, bulk] = await Promise.all([
      store.jobList(params),
      readStats(store, t),
      store.configGetAll(),
      // The scheduled view has no actions by filter: a filter's state is a
      // job state, and "not due yet" is not one (DESIGN.md "Operator controls").
      scheduled ? null : bulkData(store, url.searchParams, t, back, [
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
      now: t,
      filtered: bulk !== null || scheduled,
      filters: {
        state: scheduled ? SCHEDULED : params.state,
        queue: params.queue,
        q: params.search,
        tag: url.searchParams.getAll("tag").join(","),
        olderThan: url.searchParams.get("older_than") ?? undefined,
      },
      stats,
      bulk,
      timeout: config.job_timeout,
    });
  });

  app.get("/jobs/:id", async (c) => {
    const id = c.req.param("id");
    const t = now();
    const job = await store.jobGetWithRuns({ id });
    if (!job) {
      return missing(c, store, t, {
        title: `Job "${id}" not found`,
        text: "The id may be mistyped, or the job was deleted: finished jobs are removed after " +
          "the keep_completed, keep_cancelled and keep_dead settings (7 days by default), " +
          "and purging the DLQ deletes dead ones.",
        search: id,
      });
    }
    const outputs = new Map<number, RunOutput>();
    for (const [index, hidden] of pages.outputRuns(job.runs)) {
      if (hidden) continue;
      const output = await store.runOutputGet({ id, run: index + 1 });
      if (output) outputs.set(index, output);
    }
    const [stats, config] = await Promise.all([readStats(store, t), store.configGetAll()]);
    return render(c, pages.jobPage, { job, outputs, now: t, stats, config });
  });

  app.get("/dlq", async (c) => {
    const url = new URL(c.req.url);
    const t = now();
    const params = { ...listParams(url.searchParams, t), state: "dead" as const };
    const query = new URLSearchParams(url.searchParams);
    query.delete("state");
    const filtered = filterParams(query, t) !== null;
    if (filtered) query.set("state", "dead");
    const back = `${url.pathname}${url.search}`;
    const [result, stats, config, bulk] = await Promise.all([
      store.jobList(params),
      readStats(store, t),
      store.configGetAll(),
      filtered ? bulkData(store, query, t, back, ["retry", "delete"]) : null,
    ]);
    return render(c, pages.dlqPage, {
      jobs: result.jobs,
      dead: stats.counts.dead,
      next: result.nextCursor,
      params: url.searchParams,
      now: t,
      stats,
      filters: {
        state: undefined,
        queue: params.queue,
        q: params.search,
        tag: url.searchParams.getAll("tag").join(","),
        olderThan: url.searchParams.get("older_than") ?? undefined,
      },
      bulk,
      timeout: config.job_timeout,
    });
  });

  app.get("/queues", async (c) => {
    const t = now();
    const [queues, health, stats] = await Promise.all([
      store.queueList(),
      store.queueHealthList({ now: t, since: t - QUEUE_WINDOW_MS }),
      readStats(store, t),
    ]);
    return render(c, pages.queuesPage, {
      queues,
      health: new Map(health.map((h) => [h.name, h])),
      windowMs: QUEUE_WINDOW_MS,
      now: t,
      stats,
    });
  });

  app.get("/schedules", async (c) => {
    const t = now();
    const [list, stats] = await Promise.all([store.scheduleList(), readStats(store, t)]);
    return render(c, pages.schedulesPage, { schedules: list.map(scheduleView), now: t, stats });
  });

  return app;
}

/**
 * Any other `GET` that wants a page: "not found" in the frame, with the
 * navigation; the API's and anything else's go on to the plain answer.
 */
export function pageNotFound({ store, now }: RouteContext) {
  return async (c: Context, next: () => Promise<void>) => {
    if (c.req.method !== "GET" || !wantsHtml(c)) return await next();
    return await missing(c, store, now(), {
      title: `Nothing at ${c.req.path}`,
      text: "There is no page at this address.",
    });
  };
}
