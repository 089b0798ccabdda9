/**
 * `queuectl delete <id>... | <filter>`: removes final jobs (completed,
 * dead, cancelled) with their attempts and output; others are refused
 * (cancel them first). By filter in batches (README "Operating a queue").
 */
import { type CliContext, withStorage } from "./_context.ts";
import { type BulkOptions, parseTarget, runFiltered } from "./_bulk.ts";

/** Deletes every id, all or none, or every final job a filter matches. */
export async function deleteJobs(
  ctx: CliContext,
  ids: string[],
  options: BulkOptions = {},
): Promise<void> {
  const target = parseTarget("delete", ids, options);
  if ("filter" in target) return await runFiltered(ctx, "delete", target.filter, options);
  const n = await withStorage(ctx, (store) => store.jobDelete({ ids: target.ids }));
  ctx.out(`deleted ${n} job${n === 1 ? "" : "s"}`);
}
