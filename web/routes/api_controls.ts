/**
 * The JSON API of the operator controls (README "Operating a queue"),
 * mounted under `/api` by `api.ts`: actions by filter
 * (`POST /api/jobs/bulk/<action>`, with `dry_run` for the count), hold,
 * release and edit of one job. Every route passes the same access check
 * (`web/access.ts`) as the rest of the app; the buttons are form actions.
 */
import { Hono } from "hono";
import { BULK_ACTIONS, type BulkAction } from "../../lib/state.ts";
import { bulkSummary, DRY_RUN_SAMPLE, runBulk } from "../../lib/bulk.ts";
import { UsageError } from "../../lib/errors.ts";
import type { EditWords } from "../../lib/job_edit.ts";
import { parseEdit } from "../../lib/job_edit.ts";
import * as pages from "../pages/mod.tsx";
import { filterParams, isFormPost, isPlainForm, safeReturn } from "../request.ts";
import { type ActionInput, formAction } from "../respond.ts";
import type { RouteContext } from "./_context.ts";

/** The filter fields of a JSON body, named as the filter bar's (`tags`/`command_like` too). */
function jsonFilterFields(input: ActionInput): Record<string, unknown> {
  return {
    ...input,
    tag: input.tag ?? input.tags,
    q: input.q ?? input.command_like,
  };
}

/** An edit's fields, from the job page's form (text) or a JSON object. */
function editWords(input: ActionInput): EditWords {
  const text = (v: unknown) =>
    v === undefined || v === null || v === "" ? undefined : typeof v === "string" ? v : String(v);
  const list = (v: unknown): string[] | undefined => {
    if (v === undefined || v === null) return undefined;
    if (Array.isArray(v)) return v.map((x) => (typeof x === "string" ? x : JSON.stringify(x)));
    return String(v).split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
  };
  const env = input.env !== null && typeof input.env === "object" && !Array.isArray(input.env)
    ? Object.entries(input.env as Record<string, unknown>).map(([k, v]) => `${k}=${v}`)
    : typeof input.env === "string"
    ? input.env.split("\n").map((s) => s.trim()).filter(Boolean)
    : undefined;
  return {
    command: text(input.command),
    priority: text(input.priority),
    queue: text(input.queue),
    runAt: text(input.run_at),
    maxRetries: text(input.max_retries),
    timeout: text(input.timeout),
    tag: list(input.tags),
    env,
  };
}

async function readBody(
  c: { req: { parseBody: (o: { all: boolean }) => Promise<unknown>; text: () => Promise<string> } },
  form: boolean,
): Promise<ActionInput> {
  if (form) return await c.req.parseBody({ all: true }) as ActionInput;
  const text = await c.req.text();
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(
      "Request body is not JSON",
      'send e.g. {"state": "pending", "tags": ["batch7"]}',
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError("Request body is not a JSON object", 'send e.g. {"state": "pending"}');
  }
  return value as ActionInput;
}

const yes = (v: unknown) => v === true || v === "1" || v === "true" || v === "on";

/** The routes, relative to `/api`. */
export function controlRoutes({ store, now, changed }: RouteContext): Hono {
  const app = new Hono();

  // An action by filter: `dry_run` counts; a plain form asks to confirm first.
  app.post("/jobs/bulk/:action", async (c) => {
    const action = c.req.param("action");
    if (!(BULK_ACTIONS as readonly string[]).includes(action)) {
      throw new UsageError(`Unknown action "${action}"`, `use one of: ${BULK_ACTIONS.join(", ")}`);
    }
    const act = action as BulkAction;
    const form = isFormPost(c);
    const input = await readBody(c, form);
    const filter = filterParams(form ? input : jsonFilterFields(input), now());
    if (filter === null && !yes(input.all)) {
      throw new UsageError(
        `Nothing to ${act}: no filter`,
        "add a filter (state, queue, tag, older_than, q) or all=1",
      );
    }
    if (yes(input.dry_run) || (isPlainForm(c) && !yes(input.confirmed))) {
      const { count, ids } = await store.jobBulkCount({
        action: act,
        filter: filter ?? {},
        sample: DRY_RUN_SAMPLE,
      });
      if (!isPlainForm(c)) return c.json({ action: act, dry_run: true, count, ids });
      // Without script, the confirmation is a page of its own.
      return c.html(pages.confirmBulk({ action: act, count, input }));
    }
    const result = await runBulk(store, act, filter ?? {});
    changed(act === "retry" || act === "release");
    if (isPlainForm(c)) return c.redirect(safeReturn([input.return].flat()[0]), 303);
    return c.json({
      action: act,
      dry_run: false,
      count: result.changed,
      requested: result.requested,
      skipped: result.skipped,
      summary: bulkSummary(result),
    });
  });

  app.post(
    "/jobs/:id/hold",
    formAction(async (c) => {
      const [job] = await store.jobHold({ ids: [c.req.param("id")!], now: now() });
      changed(false);
      return job;
    }),
  );

  app.post(
    "/jobs/:id/release",
    formAction(async (c) => {
      const [job] = await store.jobRelease({ ids: [c.req.param("id")!], now: now() });
      changed(true);
      return job;
    }),
  );

  // One transaction; the `edited` event comes with the events feature (DESIGN.md "Operator controls").
  app.post(
    "/jobs/:id/edit",
    formAction(async (c, input) => {
      const changes = parseEdit(editWords(input), now());
      const job = await store.jobEdit({ id: c.req.param("id")!, changes, now: now() });
      changed(true);
      return job;
    }, { json: true }),
  );

  return app;
}
