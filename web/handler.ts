/**
 * The dashboard as a hono app over {@linkcode Storage}: pages, the JSON API,
 * server-sent events and `/metrics`. No socket here (`serve.ts` wires it to
 * `Deno.serve`), so tests call `app.request(new Request(...))`.
 *
 * Every request passes one guard: the `Host` must be ours (DNS rebinding),
 * a write must not come from a foreign `Origin` (CSRF), and the token must
 * come as `Authorization: Bearer`, as the cookie set from `?token=`, or as
 * that `?token=` itself (which sets the cookie and redirects without it).
 * Typed errors become HTTP statuses in one error handler.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getCookie, setCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import {
  parseConcurrency,
  parseLimit,
  parsePositiveInt,
  parseQueueName,
  parseState,
} from "../lib/options.ts";
import { readStats, readThroughput } from "../lib/stats.ts";
import {
  errorLine,
  errorMessage,
  jobNotFound,
  outputNotFound,
  QueuectlError,
  scheduleNotFound,
  UsageError,
} from "../lib/errors.ts";
import { insertedJobs, type Job, type NewJob, type RunOutput } from "../lib/job.ts";
import { parseJobInput, parseJobJson, parseOnConflict } from "../lib/job_input.ts";
import { scheduleView } from "../lib/schedule.ts";
import { resumeSchedule, runScheduleNow } from "../lib/schedule_actions.ts";
import type { JobListParams, Storage } from "../lib/storage/storage.ts";
import type { Stats } from "../lib/stats.ts";
import { assetGet } from "./assets.ts";
import {
  allowedHosts,
  bearerToken,
  isAllowedOrigin,
  tokenCookieName,
  tokenMatches,
} from "./auth.ts";
import { ChangeFeed, type Snapshot } from "./change_feed.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import * as pages from "./pages/mod.tsx";
import { outputRuns } from "./pages/job.tsx";

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

/** The largest page of jobs the API returns. */
export const MAX_PAGE = 1000;

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

function isApiPath(path: string): boolean {
  return path === "/api" || path.startsWith("/api/") || path === "/metrics";
}

function isFormPost(c: Context): boolean {
  const type = c.req.header("content-type") ?? "";
  return type.startsWith("application/x-www-form-urlencoded") ||
    type.startsWith("multipart/form-data");
}

/** A plain HTML form post (no script): answer with a redirect or an HTML page, not JSON. */
function isPlainForm(c: Context): boolean {
  return isFormPost(c) && !(c.req.header("accept") ?? "").includes("application/json");
}

function wantsHtml(c: Context): boolean {
  return !isApiPath(c.req.path) || isPlainForm(c);
}

/** A local path to go back to after a form post; anything else becomes `/`. */
function safeReturn(value: unknown): string {
  return typeof value === "string" && /^\/(?![/\\])/.test(value) ? value : "/";
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

/** Reads `state`, `queue`, `q`, `limit` and `cursor` from a query string. */
export function listParams(query: URLSearchParams, fallbackLimit = 50): JobListParams {
  const limit = parseLimit(query.get("limit") || undefined, fallbackLimit);
  if (limit > MAX_PAGE) {
    throw new UsageError(`Invalid limit "${limit}"`, `use at most ${MAX_PAGE}`);
  }
  return {
    state: parseState(query.get("state") || undefined),
    queue: query.get("queue")?.trim() || undefined,
    search: query.get("q")?.trim() || undefined,
    cursor: query.get("cursor") || undefined,
    limit,
  };
}

/** Builds the dashboard app. */
export function createApp(deps: HandlerDeps): Hono {
  const { store, token } = deps;
  const now = deps.now ?? (() => deps.store.now());
  const changes = deps.changes ?? storeChangeFeed(store, { now });
  const hosts = allowedHosts(deps.hostname, deps.port);
  const cookieName = tokenCookieName(deps.port);
  const changed = (jobsAdded: boolean) => {
    if (jobsAdded) deps.onJobsChanged?.();
    changes.poke();
  };

  const app = new Hono();

  const refuse = (c: Context, status: 401 | 403, message: string, hint: string) => {
    if (status === 401) c.header("WWW-Authenticate", 'Bearer realm="queuectl"');
    if (!wantsHtml(c)) return c.json({ error: `${message}; ${hint}` }, status);
    const text = `${hint[0]!.toUpperCase()}${hint.slice(1).replaceAll("`", "")}.`;
    return c.html(pages.message({ title: message, text }), status);
  };

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
  app.use("*", async (c, next) => {
    const url = new URL(c.req.url);
    const host = (c.req.header("host") ?? url.host).toLowerCase();
    if (!hosts.has(host)) {
      return refuse(
        c,
        403,
        `Host "${host}" is not this dashboard's address`,
        `open http://127.0.0.1:${deps.port}/ instead`,
      );
    }
    const method = c.req.method;
    const read = method === "GET" || method === "HEAD";
    if (!read) {
      const origin = c.req.header("origin");
      const site = c.req.header("sec-fetch-site");
      if (
        (origin !== undefined && !isAllowedOrigin(origin, hosts)) ||
        site === "cross-site" || site === "same-site"
      ) {
        return refuse(
          c,
          403,
          "Cross-origin request refused",
          "changes are only accepted from the dashboard's own pages or from API clients",
        );
      }
    }
    const queryToken = url.searchParams.get("token");
    if (read && queryToken !== null) {
      if (!tokenMatches(queryToken, token)) {
        return refuse(
          c,
          401,
          "Wrong token",
          "open the URL that `queuectl dashboard` printed when it started",
        );
      }
      setCookie(c, cookieName, token, { httpOnly: true, sameSite: "Strict", path: "/" });
      url.searchParams.delete("token");
      return c.redirect(`${url.pathname}${url.search}`, 303);
    }
    const presented = bearerToken(c.req.header("authorization")) ?? getCookie(c, cookieName);
    if (!tokenMatches(presented, token)) {
      return refuse(
        c,
        401,
        presented === undefined ? "This dashboard needs its token" : "Wrong token",
        "open the URL that `queuectl dashboard` printed when it started " +
          "(it ends in ?token=…); API clients send Authorization: Bearer <token>",
      );
    }
    await next();
  });

  app.onError((error, c) => {
    let status = 500;
    let message: string;
    if (error instanceof QueuectlError) {
      status = error.httpStatus;
      message = errorLine(error);
    } else {
      console.error(error);
      message = `Internal error: ${errorMessage(error)}`;
    }
    const code = status as 400 | 404 | 409 | 500;
    if (!wantsHtml(c)) return c.json({ error: message }, code);
    return c.html(pages.message({ title: message, text: "", back: true }), code);
  });

  app.notFound((c) => {
    const message = `Nothing at ${c.req.method} ${c.req.path}`;
    if (!wantsHtml(c)) return c.json({ error: message }, 404);
    return c.html(pages.message({ title: message, text: "", back: true }), 404);
  });

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

  const action = (run: (id: string) => Promise<Job>, jobsAdded: boolean) => async (c: Context) => {
    const back = isFormPost(c) ? safeReturn((await c.req.parseBody()).return) : "/";
    const job = await run(c.req.param("id")!);
    changed(jobsAdded);
    return isPlainForm(c) ? c.redirect(back, 303) : c.json(job);
  };

  app.post(
    "/api/jobs/:id/retry",
    action(async (id) => (await store.jobRetry({ ids: [id], now: now() }))[0]!, true),
  );

  app.post(
    "/api/jobs/:id/cancel",
    action(async (id) => (await store.jobCancel({ ids: [id], now: now() }))[0]!, false),
  );

  app.post("/api/dlq/retry", async (c) => {
    const back = isFormPost(c) ? safeReturn((await c.req.parseBody()).return) : "/dlq";
    const retried = await store.jobRetryAllDead({ now: now() });
    changed(retried > 0);
    return isPlainForm(c) ? c.redirect(back, 303) : c.json({ retried });
  });

  app.get("/api/queues", async (c) => c.json(await store.queueList()));

  /** A queue change: applies it, then answers with the queue (or goes back, for a plain form). */
  const queueAction =
    (change: (name: string, form: Record<string, unknown>) => Promise<void>) =>
    async (c: Context) => {
      const name = parseQueueName(c.req.param("name")!);
      let form: Record<string, unknown> = {};
      if (isFormPost(c)) form = await c.req.parseBody();
      else {
        const text = await c.req.text();
        if (text.trim() !== "") {
          try {
            form = JSON.parse(text);
          } catch {
            throw new UsageError("Request body is not JSON", 'send e.g. {"concurrency": 2}');
          }
          if (typeof form !== "object" || form === null || Array.isArray(form)) {
            throw new UsageError(
              "Request body is not a JSON object",
              'send e.g. {"concurrency": 2}',
            );
          }
        }
      }
      await change(name, form);
      changed(true);
      if (isPlainForm(c)) return c.redirect(safeReturn(form.return ?? "/queues"), 303);
      const queue = (await store.queueList()).find((q) => q.name === name);
      return c.json(queue);
    };

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
    queueAction((name, form) =>
      store.queueSet({
        name,
        concurrency: parseConcurrency(form.concurrency as string | number | undefined),
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

  const scheduleAction =
    (run: (name: string) => Promise<unknown>, jobsAdded: boolean) => async (c: Context) => {
      const back = isFormPost(c) ? safeReturn((await c.req.parseBody()).return) : "/schedules";
      const result = await run(c.req.param("name")!);
      changed(jobsAdded);
      return isPlainForm(c) ? c.redirect(back, 303) : c.json(result);
    };

  app.post(
    "/api/schedules/:name/pause",
    scheduleAction(
      async (name) => scheduleView(await store.scheduleSetPaused({ name, paused: true })),
      false,
    ),
  );

  app.post(
    "/api/schedules/:name/resume",
    scheduleAction(async (name) => scheduleView(await resumeSchedule(store, name)), false),
  );

  app.post(
    "/api/schedules/:name/run",
    scheduleAction((name) => runScheduleNow(store, name), true),
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
