/**
 * `/api/log`: the event log for API clients and live views (README
 * "Events", "Dashboard"), beside the dashboard's own change stream at
 * `/api/events`:
 * - `GET /api/log?since=&queue=&type=&job=&limit=` → `{ events, through, latest }`;
 *   pass `through` as the next `since`.
 * - `GET /api/log/stream?since=&queue=&type=&job=` → server-sent events, one
 *   `event: job` a log event, its `id:` the seq (a reconnecting EventSource
 *   resumes from `Last-Event-ID`).
 * A cursor the pruner passed is a 409 naming where the log now starts.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { parseEventTypes, parseSince } from "../../lib/event.ts";
import { type EventFilter, readEventPage, readEvents } from "../../lib/event_reader.ts";
import { parsePositiveInt } from "../../lib/options.ts";
import type { RouteContext } from "./_context.ts";

/** Most events one JSON read returns. */
const MAX_LIMIT = 1000;

function filterOf(query: (name: string) => string[] | undefined): EventFilter {
  const queues = query("queue")?.filter(Boolean);
  const types = parseEventTypes(query("type") ?? []);
  const job = query("job")?.[0];
  return {
    queues: queues?.length ? queues : undefined,
    types: types.length ? types : undefined,
    job: job || undefined,
  };
}

/** The routes of `/api/log`. */
export function eventLogRoutes({ store }: RouteContext): Hono {
  const app = new Hono();
  app.get("/", async (c) => {
    const since = parseSince(c.req.query("since") ?? "0");
    const limit = Math.min(parsePositiveInt("limit", c.req.query("limit")) ?? MAX_LIMIT, MAX_LIMIT);
    const page = await readEventPage(store, since, filterOf((n) => c.req.queries(n)), limit);
    return c.json({ events: page.events, through: page.through, latest: page.latest });
  });
  app.get("/stream", (c) => {
    const resume = c.req.header("last-event-id");
    const raw = resume ?? c.req.query("since");
    const since = raw === undefined ? undefined : parseSince(raw);
    const filter = filterOf((n) => c.req.queries(n));
    return streamSSE(c, async (stream) => {
      const stop = new AbortController();
      stream.onAbort(() => stop.abort());
      await stream.write("retry: 1000\n\n");
      try {
        await readEvents(
          store,
          { ...filter, since, follow: true, signal: stop.signal },
          (event) =>
            stream.writeSSE({ event: "job", id: String(event.seq), data: JSON.stringify(event) }),
        );
      } catch (error) {
        await stream.writeSSE({ event: "error", data: String(error) });
      }
    });
  });
  return app;
}
