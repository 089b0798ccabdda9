/**
 * One host id, one machine (DESIGN.md, "Watchdog"): a worker started under
 * a host id that a live worker on another machine already uses would judge
 * that worker's pid here, find it missing and rescue its running jobs. So
 * a supervisor, once registered, looks for such a worker and refuses to go
 * on while one is alive.
 */
import { hostIdInUse } from "../lib/errors.ts";
import type { Storage } from "../lib/storage/storage.ts";
import { workerPresence } from "./process_group.ts";

/**
 * Throws {@linkcode hostIdInUse} (and unregisters `id`) when another worker
 * registered under `host` runs in a pid space this one cannot see and its
 * heartbeat is younger than a lease by the store's clock. Of two started at
 * once, the one registered later (then the greater id) gives way.
 */
export async function claimHostId(params: {
  store: Pick<Storage, "workerListAll" | "workerRemove">;
  id: string;
  host: string;
  now: number;
  leaseMs: number;
}): Promise<void> {
  const { store, id, host, now, leaseMs } = params;
  const workers = await store.workerListAll();
  const self = workers.find((w) => w.id === id);
  const before = (w: { id: string; started_at: string }) =>
    self === undefined || w.started_at < self.started_at ||
    (w.started_at === self.started_at && w.id < self.id);
  const other = workers.find((w) =>
    w.id !== id && w.host === host && workerPresence(w) === "unseen" &&
    now - Date.parse(w.heartbeat_at) < leaseMs && before(w)
  );
  if (other === undefined) return;
  await store.workerRemove({ id });
  throw hostIdInUse(host, other);
}
