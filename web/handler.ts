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
import { createMiddleware } from "hono/factory";
import type { Stats } from "../lib/stats.ts";
import type { Storage } from "../lib/storage/storage.ts";
import { accessCheck } from "./access.ts";
import type { ChangeFeed } from "./change_feed.ts";
import { csp } from "./pages/mod.tsx";
import { handleError, handleNotFound } from "./respond.ts";
import type { RouteContext } from "./routes/_context.ts";
import { apiRoutes } from "./routes/api.ts";
import { assetRoutes } from "./routes/assets.ts";
import { eventRoutes, storeChangeFeed } from "./routes/events.ts";
import { eventLogRoutes } from "./routes/event_log.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { pageNotFound, pageRoutes } from "./routes/pages.ts";

export { storeChangeFeed } from "./routes/events.ts";

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

/** Headers for every response, errors and refusals included. */
const securityHeaders = createMiddleware(async (c, next) => {
  await next();
  c.header("Content-Security-Policy", csp);
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
  app.route("/", pageRoutes(ctx));
  app.route("/api/events", eventRoutes(ctx));
  app.route("/api/log", eventLogRoutes(ctx));
  app.route("/api", apiRoutes(ctx));
  app.route("/metrics", metricsRoutes(ctx));
  app.get("*", pageNotFound(ctx));
  return app;
}
