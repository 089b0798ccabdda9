/** `queuectl worker list`: running worker processes. */
import { lateSince, liveSince } from "../lib/config.ts";
import type { WorkerInfo } from "../lib/storage/storage.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { relativeTime } from "../lib/relative_time.ts";
import { table } from "./_format.ts";

/** Live workers: heartbeat newer than the lease. */
export async function readWorkers(ctx: CliContext): Promise<WorkerInfo[]> {
  return await withStorage(ctx, async (store) => {
    const now = store.now();
    const config = await store.configGetAll();
    return await store.workerList({
      staleBefore: liveSince(config, now),
      lateBefore: lateSince(config, now),
    });
  });
}

/** Prints id, pid, host, started and current jobs of each running worker process. */
export async function workerList(ctx: CliContext, json: boolean): Promise<void> {
  const workers = await readWorkers(ctx);
  if (json) return printJson(ctx, workers);
  if (workers.length === 0) {
    ctx.out("no workers running; start some with: queuectl worker start");
    return;
  }
  const now = Date.now();
  ctx.out(table(
    ["ID", "PID", "HOST", "STARTED", "SLOTS", "QUEUES", "JOBS"],
    workers.map((w) => [
      w.role === "dashboard" ? `${w.id} (dashboard)` : w.id,
      String(w.pid),
      w.host,
      relativeTime(w.started_at, now),
      String(w.count),
      w.queues?.join(",") ?? "all",
      w.current_jobs.join(", ") || "idle",
    ]),
  ));
}
