/** `/metrics`: counts, totals and each queue's latency in the Prometheus text format. */
import { Hono } from "hono";
import { readStats } from "../../lib/stats.ts";
import { METRICS_CONTENT_TYPE, queueLatency, renderMetrics } from "../metrics.ts";
import type { RouteContext } from "./_context.ts";

/** The route of the metrics. */
export function metricsRoutes({ store, now }: RouteContext): Hono {
  const app = new Hono();
  app.get("/", async (c) => {
    const t = now();
    const [stats, totals, queues, health] = await Promise.all([
      readStats(store, t),
      store.runTotals(),
      store.queueList(),
      store.queueHealthList({ now: t, since: t }),
    ]);
    c.header("Content-Type", METRICS_CONTENT_TYPE);
    return c.body(renderMetrics(stats, totals, queueLatency(queues, health, t)));
  });
  return app;
}
