/** `queuectl prune`: deletes old final jobs now, as running workers do about once a minute. */
import { parseDurationOption } from "../lib/options.ts";
import { PRUNABLE_STATES, type PruneParams } from "../lib/storage/storage.ts";
import { pruneInBatches, retentionCutoffs } from "../lib/retention.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";

/** The flags of `prune`: durations as typed. */
export interface PruneOptions {
  completedOlderThan?: string | undefined;
  cancelledOlderThan?: string | undefined;
  deadOlderThan?: string | undefined;
  dryRun?: boolean | undefined;
  json?: boolean | undefined;
}

/**
 * Deletes completed, cancelled and dead jobs older than the given ages
 * (with no age flag: the retention settings; with some: only those
 * states), in small batches; prints how many per state.
 */
export async function prune(ctx: CliContext, options: PruneOptions): Promise<void> {
  const flags = {
    completed: options.completedOlderThan,
    cancelled: options.cancelledOlderThan,
    dead: options.deadOlderThan,
  };
  // Every flag is checked before anything is read or deleted.
  const ages = Object.fromEntries(
    PRUNABLE_STATES.filter((state) => flags[state] !== undefined).map((state) => [
      state,
      parseDurationOption(`--${state}-older-than`, flags[state]!),
    ]),
  );
  const dryRun = options.dryRun === true;
  const counts = await withStorage(ctx, async (store) => {
    const now = store.now();
    const before: PruneParams["before"] = Object.keys(ages).length === 0
      ? retentionCutoffs(await store.configGetAll(), now)
      : Object.fromEntries(Object.entries(ages).map(([state, ms]) => [state, now - ms]));
    return dryRun
      ? await store.jobPrune({ before, dryRun: true })
      : await pruneInBatches(store, before, { restRatio: 1 });
  });
  if (options.json) return printJson(ctx, { ...counts, dry_run: dryRun });
  const total = PRUNABLE_STATES.reduce((sum, state) => sum + counts[state], 0);
  const detail = PRUNABLE_STATES.map((state) => `${counts[state]} ${state}`).join(", ");
  ctx.out(
    `${dryRun ? "would prune" : "pruned"} ${total} job${total === 1 ? "" : "s"} (${detail})`,
  );
}
