/** `queuectl queue list`: every queue with its counts, running jobs, pause and limit. */
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { paint, rateColumn, table } from "./_format.ts";

/** Prints one row per queue, or the JSON array of queues. */
export async function queueList(ctx: CliContext, json: boolean): Promise<void> {
  const queues = await withStorage(ctx, (store) => store.queueList());
  if (json) return printJson(ctx, queues);
  if (queues.length === 0) {
    ctx.out("no queues yet; a queue appears with its first job or setting");
    return;
  }
  ctx.out(table(
    [
      "QUEUE",
      "PENDING",
      "RUNNING",
      "FAILED",
      "COMPLETED",
      "DEAD",
      "CANCELLED",
      "STATE",
      "LIMIT",
      "RATE",
      "PER GROUP",
    ],
    queues.map((q) => [
      q.name,
      String(q.counts.pending),
      String(q.running),
      String(q.counts.failed),
      String(q.counts.completed),
      String(q.counts.dead),
      String(q.counts.cancelled),
      q.paused ? paint(ctx.color, 33, "paused") : "active",
      q.concurrency === 0 ? "none" : String(q.concurrency),
      rateColumn(q.rate),
      q.group_concurrency === 0 ? "none" : String(q.group_concurrency),
    ]),
  ));
}
