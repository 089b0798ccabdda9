/** The status document (`status --json`, `GET /api/stats`), read the same way everywhere. */
import { liveSince } from "./config.ts";
import type { Stats, Storage } from "./storage/storage.ts";

/** Reads counts, live workers, next retry and throughput at `now`. */
export async function readStats(store: Storage, now: number): Promise<Stats> {
  const config = await store.configGetAll();
  return await store.statsGet({ now, staleBefore: liveSince(config, now) });
}
