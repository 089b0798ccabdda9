/**
 * `queuectl cancel <id>... | <filter>`: pending, blocked, held and failed
 * jobs stop at once (and the jobs waiting on them); running ones are
 * stopped first. By filter in batches (README "Operating a queue").
 */
import { type CliContext, withStorage } from "./_context.ts";
import { type BulkOptions, parseTarget, runFiltered } from "./_bulk.ts";

/** Cancels every id, all or none (one line per job), or every job a filter matches. */
export async function cancel(
  ctx: CliContext,
  ids: string[],
  options: BulkOptions = {},
): Promise<void> {
  const target = parseTarget("cancel", ids, options);
  if ("filter" in target) return await runFiltered(ctx, "cancel", target.filter, options);
  const jobs = await withStorage(
    ctx,
    (store) => store.jobCancel({ ids: target.ids, now: store.now() }),
  );
  for (const job of jobs) {
    ctx.out(
      job.state === "cancelled"
        ? `job ${job.id} cancelled`
        : `job ${job.id} is running; its worker will stop it and mark it cancelled`,
    );
  }
}
