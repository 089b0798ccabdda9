/**
 * The JSON API under `/api`: the same documents as the CLI's `--json`, and
 * the writes behind the dashboard's buttons and forms (which also work as
 * plain HTML forms, answered with a redirect).
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import {
  errorMessage,
  jobNotFound,
  outputNotFound,
  scheduleNotFound,
  UsageError,
} from "../../lib/errors.ts";
import { insertedJobs, type NewJob } from "../../lib/job.ts";
import { parseJobInput, parseJobJson, parseOnConflict } from "../../lib/job_input.ts";
import {
  parseConcurrency,
  parseGroupConcurrency,
  parsePositiveInt,
  parseQueueName,
  parseRate,
} from "../../lib/options.ts";
import { scheduleView } from "../../lib/schedule.ts";
import { resumeSchedule, runScheduleNow } from "../../lib/schedule_actions.ts";
import { readStats } from "../../lib/stats.ts";
import { isFormPost, isPlainForm, listParams, safeReturn } from "../request.ts";
import { formAction } from "../respond.ts";
import type { RouteContext } from "./_context.ts";
import { controlRoutes } from "./api_controls.ts";

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

/** The jobs of a JSON body: one job object, or a non-empty array of them. */
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

/** The API routes, relative to `/api`. */
export function apiRoutes(ctx: RouteContext): Hono {
  const { store, now, changed } = ctx;
  const app = new Hono();

  app.get("/stats", async (c) => c.json(await readStats(store, now())));

  // ----- operator controls: actions by filter, hold, release, edit (api_controls.ts);
  // first, so `/jobs/bulk/<action>` is not taken for a job named "bulk"

  app.route("/", controlRoutes(ctx));

  // ----- jobs

  app.get("/jobs", async (c) => {
    const result = await store.jobList(listParams(new URL(c.req.url).searchParams, now()));
    return c.json({ jobs: result.jobs, next_cursor: result.nextCursor });
  });

  app.get("/jobs/:id", async (c) => {
    const id = c.req.param("id");
    const job = await store.jobGetWithRuns({ id });
    if (!job) throw jobNotFound(id);
    return c.json(job);
  });

  app.get("/jobs/:id/logs", async (c) => {
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

  // Adds one job (a JSON object or the add-job form) or many (a JSON array); 201 with the job(s).
  app.post(
    "/jobs",
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
    "/jobs/:id/retry",
    formAction(async (c) => {
      const [job] = await store.jobRetry({ ids: [c.req.param("id")!], now: now() });
      changed(true);
      return job;
    }),
  );

  app.post(
    "/jobs/:id/cancel",
    formAction(async (c) => {
      const [job] = await store.jobCancel({ ids: [c.req.param("id")!], now: now() });
      changed(false);
      return job;
    }),
  );

  // A delayed job due now ("Run now"); the store refuses one that is not pending.
  app.post(
    "/jobs/:id/run",
    formAction(async (c) => {
      const job = await store.jobRunNow({ id: c.req.param("id")!, now: now() });
      changed(true);
      return job;
    }),
  );

  // Deletes every dead job with its attempts and output.
  app.post(
    "/dlq/purge",
    formAction(async () => {
      const deleted = await store.jobDeleteDead({});
      changed(false);
      return { deleted };
    }, { back: "/dlq" }),
  );

  app.post(
    "/dlq/retry",
    formAction(async () => {
      const retried = await store.jobRetryAllDead({ now: now() });
      changed(retried > 0);
      return { retried };
    }),
  );

  // ----- queues: pause, resume, a limit; each answers with the queue

  app.get("/queues", async (c) => c.json(await store.queueList()));

  // A bad queue name is refused before the body is read.
  app.use("/queues/:name/*", async (c, next) => {
    parseQueueName(c.req.param("name"));
    await next();
  });

  const queueAction = (change: (name: string, input: Record<string, unknown>) => Promise<void>) =>
    formAction(async (c, input) => {
      const name = parseQueueName(c.req.param("name")!);
      await change(name, input);
      changed(true);
      return (await store.queueList()).find((q) => q.name === name);
    }, { back: "/queues", json: true });

  app.post("/queues/:name/pause", queueAction((name) => store.queueSet({ name, paused: true })));
  app.post("/queues/:name/resume", queueAction((name) => store.queueSet({ name, paused: false })));
  app.post(
    "/queues/:name/concurrency",
    queueAction((name, input) =>
      store.queueSet({
        name,
        concurrency: parseConcurrency(input.concurrency as string | number | undefined),
      })
    ),
  );
  // Flow control (README "Flow control"): `rate` as `queue set --rate` takes it
  // (`10/1s`; `off`, empty or null for none), `group_concurrency` 0 for none.
  app.post(
    "/queues/:name/rate",
    queueAction((name, input) => {
      const raw = input.rate;
      const rate = raw === null || raw === "" ? null : parseRate(raw as string | undefined);
      return store.queueSet({ name, rate });
    }),
  );
  app.post(
    "/queues/:name/group-concurrency",
    queueAction((name, input) =>
      store.queueSet({
        name,
        groupConcurrency: parseGroupConcurrency(
          input.group_concurrency as string | number | undefined,
        ),
      })
    ),
  );

  // ----- schedules: the documents of `schedule list --json` and `schedule show --json`

  app.get("/schedules", async (c) => c.json((await store.scheduleList()).map(scheduleView)));

  app.get("/schedules/:name", async (c) => {
    const name = c.req.param("name");
    const schedule = await store.scheduleGet({ name });
    if (!schedule) throw scheduleNotFound(name);
    const lastJob = schedule.last_job_id === null
      ? null
      : await store.jobGet({ id: schedule.last_job_id });
    return c.json({ ...scheduleView(schedule), last_job: lastJob });
  });

  app.post(
    "/schedules/:name/pause",
    formAction(async (c) => {
      const name = c.req.param("name")!;
      const schedule = scheduleView(await store.scheduleSetPaused({ name, paused: true }));
      changed(false);
      return schedule;
    }),
  );

  app.post(
    "/schedules/:name/resume",
    formAction(async (c) => {
      const schedule = scheduleView(await resumeSchedule(store, c.req.param("name")!));
      changed(false);
      return schedule;
    }),
  );

  app.post(
    "/schedules/:name/run",
    formAction(async (c) => {
      const job = await runScheduleNow(store, c.req.param("name")!);
      changed(true);
      return job;
    }),
  );

  return app;
}
