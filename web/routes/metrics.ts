/** `/metrics`: counts and totals in the Prometheus text format. */
import { Hono } from "hono";
import { readStats } from "../../lib/stats.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "../metrics.ts";
import type { RouteContext } from "./_context.ts";

/** The route of the metrics. */
export function metricsRoutes({ store, now }: RouteContext): Hono {
  const app = new Hono();
  app.get("/", async (c) => {
    const [stats, totals] = await Promise.all([readStats(store, now()), store.runTotals()]);
    c.header("Content-Type", METRICS_CONTENT_TYPE);
    return c.body(renderMetrics(stats, totals));
  });
  return app;
}
