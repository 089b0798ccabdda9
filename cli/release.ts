/**
 * `queuectl release <id>... | <filter>`: held jobs go back where they were
 * (pending, blocked, failed); a due time that passed meanwhile means now
 * (README "Operating a queue").
 */
import { type CliContext, withStorage } from "./_context.ts";
import { type BulkOptions, parseTarget, runFiltered } from "./_bulk.ts";

/** Releases every id, all or none (one line per job), or every held job a filter matches. */
export async function release(
  ctx: CliContext,
  ids: string[],
  options: BulkOptions = {},
): Promise<void> {
  const target = parseTarget("release", ids, options);
  if ("filter" in target) return await runFiltered(ctx, "release", target.filter, options);
  const jobs = await withStorage(
    ctx,
    (store) => store.jobRelease({ ids: target.ids, now: store.now() }),
  );
  for (const job of jobs) ctx.out(`job ${job.id} released: ${job.state}`);
}
