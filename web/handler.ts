/**
 * The dashboard as a hono app over {@linkcode Storage}: pages, the JSON API,
 * server-sent events and `/metrics`. No socket here (`serve.ts` wires it to
 * `Deno.serve`), so tests call `app.request(new Request(...))`.
 *
 * Every request passes the access check of `access.ts` (Host, Origin,
 * token). Typed errors become HTTP statuses in one error handler, as a page
 * or as JSON by what the request asked for (`respond.ts`).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import { parseConcurrency, parsePositiveInt, parseQueueName } from "../lib/options.ts";
import { readStats, readThroughput } from "../lib/stats.ts";
import {
  errorMessage,
  jobNotFound,
  outputNotFound,
  scheduleNotFound,
  UsageError,
} from "../lib/errors.ts";
import { insertedJobs, type NewJob, type RunOutput } from "../lib/job.ts";
import { parseJobInput, parseJobJson, parseOnConflict } from "../lib/job_input.ts";
import { scheduleView } from "../lib/schedule.ts";
import { resumeSchedule, runScheduleNow } from "../lib/schedule_actions.ts";
import type { Storage } from "../lib/storage/storage.ts";
import type { Stats } from "../lib/stats.ts";
import { assetGet } from "./assets.ts";
import { accessCheck } from "./access.ts";
import { ChangeFeed, type Snapshot } from "./change_feed.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import * as pages from "./pages/mod.tsx";
import { outputRuns } from "./pages/job.tsx";
import { isFormPost, isPlainForm, listParams, safeReturn } from "./request.ts";
import { formAction, handleError, handleNotFound } from "./respond.ts";

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

/** Longest time between change-feed reads while a browser listens (commits wake it sooner). */
export const CHANGE_POLL_MS = 1000;

/** How many jobs the overview lists, and the change feed watches. */
export const RECENT_JOBS = 10;

const LIVE_HEADER = "x-queuectl-live";
const COUNTS_HEADER = "X-Queuectl-Counts";

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
    ]);
    return { value: stats, key };
  }, {
    intervalMs: options.intervalMs ?? CHANGE_POLL_MS,
    minGapMs: options.minGapMs ?? 100,
    watch: (onChange) => store.watchChanges(onChange, { jobEnds: true }),
  });
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

const NUMERIC_FIELDS = new Set(["priority", "max_retries", "timeout"]);

/** The job object of the add-job form: empty fields left out, numbers as numbers. */
export function formToJobInput(form: Record<string, unknown>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(form)) {
    if (key === "return" || key === "on_conflict" || typeof raw !== "string") continue;
    const value = key === "command" ? raw : raw.trim();
    if (value.trim() === "") continue;
    const n = Number(value);
    // `after` is typed as ids separated by commas or spaces.
    if (key === "after") input[key] = value.split(/[\s,]+/).filter(Boolean);
    else input[key] = NUMERIC_FIELDS.has(key) && Number.isFinite(n) ? n : value;
  }
  return input;
}

async function parseJobsBody(text: string, now: number): Promise<NewJob[]> {
  if (!text.trimStart().startsWith("[")) return [await parseJobJson(text, now)];
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `Invalid job: not valid JSON (${errorMessage(error)})`,
    );
  }
  if (!Array.isArray(items) || items.length === 0) {
    throw new UsageError("Invalid jobs: give a job object or a non-empty array of them");
  }
  const jobs: NewJob[] = [];
  for (const [i, item] of items.entries()) {
    jobs.push(await parseJobInput(item, now, `item ${i + 1}: `));
  }
  return jobs;
}

/** Builds the dashboard app. */
export function createApp(deps: HandlerDeps): Hono {
  const { store } = deps;
  const now = deps.now ?? (() => deps.store.now());
  const changes = deps.changes ?? storeChangeFeed(store, { now });
  const changed = (jobsAdded: boolean) => {
    if (jobsAdded) deps.onJobsChanged?.();
    changes.poke();
  };

  const app = new Hono();

  // Headers for every response, errors included.
  app.use("*", async (c, next) => {
    await next();
    c.header("Content-Security-Policy", pages.csp);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("X-Frame-Options", "DENY");
    c.header("Referrer-Policy", "no-referrer");
    if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
  });

  // The guard: Host, then Origin on writes, then the token.
  app.use(accessCheck(deps));
  app.onError(handleError);
  app.notFound(handleNotFound);

  // ----- static files

  app.get("/assets/:name", async (c) => {
    const asset = await assetGet(c.req.param("name"));
    if (!asset) return c.notFound();
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
    c.header("Content-Type", asset.type);
    c.header("ETag", asset.etag);
    c.header("Cache-Control", "no-cache");
    return c.body(asset.body);
  });

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

  // ----- the JSON API: the same documents as the CLI's --json

  app.get("/api/stats", async (c) => c.json(await readStats(store, now())));

  app.get("/api/jobs", async (c) => {
    const result = await store.jobList(listParams(new URL(c.req.url).searchParams));
    return c.json({ jobs: result.jobs, next_cursor: result.nextCursor });
  });

  app.get("/api/jobs/:id", async (c) => {
    const id = c.req.param("id");
    const job = await store.jobGetWithRuns({ id });
    if (!job) throw jobNotFound(id);
    return c.json(job);
  });

  app.get("/api/jobs/:id/logs", async (c) => {
    const id = c.req.param("id");
    const attempt = parsePositiveInt("attempt", c.req.query("attempt"));
    const run = parsePositiveInt("run", c.req.query("run"));
    const job = await store.jobGet({ id });
    if (!job) throw jobNotFound(id);
    const output = await store.runOutputGet({ id, attempt, run });
    if (!output) {
      throw outputNotFound(job, { attempt, run }, "see its state in GET /api/jobs/<id>");
    }
    return c.json(output);
  });

  app.post(
    "/api/jobs",
    bodyLimit({
      maxSize: 16 * 1024 * 1024,
      onError: (c) =>
        c.json({ error: "Request body too large; send at most 16 MiB of jobs at a time" }, 413),
    }),
    async (c) => {
      const t = now();
      let newJobs: NewJob[];
      let back = "/";
      // What a job whose key is active does: `?on_conflict=`, or the form's field.
      let onConflictText = c.req.query("on_conflict") || undefined;
      if (isFormPost(c)) {
        const form = await c.req.parseBody();
        back = safeReturn(form.return);
        if (typeof form.on_conflict === "string" && form.on_conflict !== "") {
          onConflictText = form.on_conflict;
        }
        newJobs = [await parseJobInput(formToJobInput(form), t)];
      } else {
        newJobs = await parseJobsBody(await c.req.text(), t);
      }
      const onConflict = parseOnConflict(onConflictText, "on_conflict");
      const result = await store.jobInsertMany({ jobs: newJobs, now: t, onConflict });
      changed(result.inserted > 0);
      if (isPlainForm(c)) return c.redirect(back, 303);
      const jobs = insertedJobs(newJobs, t, result);
      if (newJobs.length === 1 && jobs.length === 0) {
        // The one job was kept out by its key: the job holding it, as 200 (nothing created).
        return c.json(await store.jobGet({ id: result.kept[0]!.existingId }), 200);
      }
      return c.json(newJobs.length === 1 ? jobs[0] : jobs, 201);
    },
  );

  app.post(
    "/api/jobs/:id/retry",
    formAction(async (c) => {
      const [job] = await store.jobRetry({ ids: [c.req.param("id")!], now: now() });
      changed(true);
      return job;
    }),
  );

  app.post(
    "/api/jobs/:id/cancel",
    formAction(async (c) => {
      const [job] = await store.jobCancel({ ids: [c.req.param("id")!], now: now() });
      changed(false);
      return job;
    }),
  );

  app.post(
    "/api/dlq/retry",
    formAction(async () => {
      const retried = await store.jobRetryAllDead({ now: now() });
      changed(retried > 0);
      return { retried };
    }),
  );

  app.get("/api/queues", async (c) => c.json(await store.queueList()));

  // A bad queue name is refused before the body is read.
  app.use("/api/queues/:name/*", async (c, next) => {
    parseQueueName(c.req.param("name"));
    await next();
  });

  /** A queue change: applies it, then answers with the queue (or goes back, for a plain form). */
  const queueAction = (change: (name: string, input: Record<string, unknown>) => Promise<void>) =>
    formAction(async (c, input) => {
      const name = parseQueueName(c.req.param("name")!);
      await change(name, input);
      changed(true);
      return (await store.queueList()).find((q) => q.name === name);
    }, { back: "/queues", json: true });

  app.post(
    "/api/queues/:name/pause",
    queueAction((name) => store.queueSet({ name, paused: true })),
  );
  app.post(
    "/api/queues/:name/resume",
    queueAction((name) => store.queueSet({ name, paused: false })),
  );
  app.post(
    "/api/queues/:name/concurrency",
    queueAction((name, input) =>
      store.queueSet({
        name,
        concurrency: parseConcurrency(input.concurrency as string | number | undefined),
      })
    ),
  );

  // ----- schedules: the documents of `schedule list --json` and `schedule show --json`

  app.get("/api/schedules", async (c) => c.json((await store.scheduleList()).map(scheduleView)));

  app.get("/api/schedules/:name", async (c) => {
    const name = c.req.param("name");
    const schedule = await store.scheduleGet({ name });
    if (!schedule) throw scheduleNotFound(name);
    const lastJob = schedule.last_job_id === null
      ? null
      : await store.jobGet({ id: schedule.last_job_id });
    return c.json({ ...scheduleView(schedule), last_job: lastJob });
  });

  app.post(
    "/api/schedules/:name/pause",
    formAction(async (c) => {
      const name = c.req.param("name")!;
      const schedule = scheduleView(await store.scheduleSetPaused({ name, paused: true }));
      changed(false);
      return schedule;
    }),
  );

  app.post(
    "/api/schedules/:name/resume",
    formAction(async (c) => {
      const schedule = scheduleView(await resumeSchedule(store, c.req.param("name")!));
      changed(false);
      return schedule;
    }),
  );

  app.post(
    "/api/schedules/:name/run",
    formAction(async (c) => {
      const job = await runScheduleNow(store, c.req.param("name")!);
      changed(true);
      return job;
    }),
  );

  app.get("/api/events", (c) =>
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

  app.get("/metrics", async (c) => {
    const [stats, totals] = await Promise.all([readStats(store, now()), store.runTotals()]);
    c.header("Content-Type", METRICS_CONTENT_TYPE);
    return c.body(renderMetrics(stats, totals));
  });

  return app;
}
