/**
 * `queuectl retry <id>... | <filter>`: a failed job runs now; a dead or
 * cancelled one starts over (blocked again while a dependency is open).
 * By filter in batches (README "Operating a queue").
 */
import { type CliContext, withStorage } from "./_context.ts";
import { type BulkOptions, parseTarget, runFiltered } from "./_bulk.ts";

/** Retries every id, all or none (one line per job), or every job a filter matches. */
export async function retry(
  ctx: CliContext,
  ids: string[],
  options: BulkOptions = {},
): Promise<void> {
  const target = parseTarget("retry", ids, options);
  if ("filter" in target) return await runFiltered(ctx, "retry", target.filter, options);
  const jobs = await withStorage(
    ctx,
    (store) => store.jobRetry({ ids: target.ids, now: store.now() }),
  );
  for (const job of jobs) {
    ctx.out(
      job.state === "blocked"
        ? `job ${job.id} is blocked again until its dependencies complete`
        : `job ${job.id} is pending again (attempts so far: ${job.attempts})`,
    );
  }
}
