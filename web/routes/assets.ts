/** `/assets/:name`: the dashboard's own files, revalidated by their ETag. */
import { Hono } from "hono";
import { assetGet } from "../assets.ts";

/** The routes of the static files. */
export function assetRoutes(): Hono {
  const app = new Hono();
  app.get("/:name", async (c) => {
    const asset = await assetGet(c.req.param("name"));
    if (!asset) return c.notFound();
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
    c.header("Content-Type", asset.type);
    c.header("ETag", asset.etag);
    c.header("Cache-Control", "no-cache");
    return c.body(asset.body);
  });
  return app;
}
