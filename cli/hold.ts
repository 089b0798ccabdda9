/**
 * `queuectl hold <id>... | <filter>`: waiting jobs (pending, blocked,
 * failed) become `held`, never claimed until released; keys and
 * dependencies stay (README "Operating a queue").
 */
import { type CliContext, withStorage } from "./_context.ts";
import { type BulkOptions, parseTarget, runFiltered } from "./_bulk.ts";

/** Holds every id, all or none (one line per job), or every waiting job a filter matches. */
export async function hold(
  ctx: CliContext,
  ids: string[],
  options: BulkOptions = {},
): Promise<void> {
  const target = parseTarget("hold", ids, options);
  if ("filter" in target) return await runFiltered(ctx, "hold", target.filter, options);
  const jobs = await withStorage(
    ctx,
    (store) => store.jobHold({ ids: target.ids, now: store.now() }),
  );
  for (const job of jobs) ctx.out(`job ${job.id} held`);
}
