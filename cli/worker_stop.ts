/** `queuectl worker stop`: stops every worker using this database, here or on other hosts. */
import { liveSince } from "../lib/config.ts";
import { UsageError } from "../lib/errors.ts";
import { hostId } from "../lib/host_id.ts";
import { openStorage, resolveDbLocation } from "../lib/storage/open_storage.ts";
import { processAlive } from "../workers/process_group.ts";
import type { CliContext } from "./_context.ts";

/** Options of `worker stop`. */
export interface WorkerStopOptions {
  timeout: string;
  force?: boolean | undefined;
}

/**
 * Asks every live worker to stop (through the database, which reaches any
 * host, and by SIGTERM to local `worker start` pids so they react at once),
 * then waits up to `--timeout` seconds for them to leave the registry. A
 * dashboard running `--workers` is asked only through the database (read
 * when the commit wakes it, or at its next heartbeat): its workers stop
 * and the dashboard keeps serving.
 */
export async function workerStop(ctx: CliContext, options: WorkerStopOptions): Promise<void> {
  const timeout = /^\d+(\.\d+)?$/.test(options.timeout.trim()) ? Number(options.timeout) : NaN;
  if (!Number.isFinite(timeout)) {
    throw new UsageError(`Invalid timeout "${options.timeout}"`, "use a number of seconds");
  }
  const mode = options.force ? "force" : "graceful";
  await using store = await openStorage(resolveDbLocation(ctx.db));
  const config = await store.configGetAll();
  const staleBefore = () => liveSince(config, store.now());
  const workers = await store.workerList({ staleBefore: staleBefore() });
  if (workers.length === 0) {
    ctx.out("no workers running");
    return;
  }
  const ids = workers.map((w) => w.id);
  await store.workerRequestStop({ ids, mode });
  const host = hostId();
  for (const w of workers) {
    if (w.host !== host || w.role !== "worker") continue;
    try {
      Deno.kill(w.pid, "SIGTERM");
    } catch { /* already gone */ }
  }
  ctx.out(
    `asked ${workers.length} worker process${workers.length === 1 ? "" : "es"} to stop${
      mode === "force" ? " now" : " after their running jobs"
    }`,
  );
  const deadline = Date.now() + timeout * 1000;
  for (;;) {
    const live = (await store.workerList({ staleBefore: staleBefore() })).filter((w) =>
      ids.includes(w.id) && (w.host !== host || processAlive(w.pid))
    );
    if (live.length === 0) {
      ctx.out("all workers stopped");
      return;
    }
    if (Date.now() >= deadline) {
      ctx.err(
        `warning: ${live.length} worker process${
          live.length === 1 ? " is" : "es are"
        } still finishing jobs after ${timeout} s (${
          live.map((w) => `pid ${w.pid} on ${w.host}`).join(", ")
        }); use --force to stop them now`,
      );
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
