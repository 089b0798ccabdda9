/**
 * `queuectl prune`: deletes old final jobs, and events older than
 * `keep_events`, now, as running workers do about once a minute.
 */
import { parseDurationOption } from "../lib/options.ts";
import { PRUNABLE_STATES, type PruneParams } from "../lib/storage/storage.ts";
import { pruneEvents, pruneInBatches, retentionCutoffs } from "../lib/retention.ts";
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
 * states), in small batches; with no age flag, also the events older than
 * `keep_events`, as the workers' pruner does (README "Events"). Prints how
 * many per state, and how many events (0 when an age flag is given).
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
  const bySettings = Object.keys(ages).length === 0;
  const { counts, events } = await withStorage(ctx, async (store) => {
    const now = store.now();
    const config = await store.configGetAll();
    const before: PruneParams["before"] = bySettings
      ? retentionCutoffs(config, now)
      : Object.fromEntries(Object.entries(ages).map(([state, ms]) => [state, now - ms]));
    const counts = dryRun
      ? await store.jobPrune({ before, dryRun: true })
      : await pruneInBatches(store, before, { restRatio: 1 });
    // The event log goes by its own age, keep_events, as in the workers' pruner.
    const events = bySettings ? await pruneEvents(store, config, now, undefined, { dryRun }) : 0;
    return { counts, events };
  });
  if (options.json) return printJson(ctx, { ...counts, events, dry_run: dryRun });
  const total = PRUNABLE_STATES.reduce((sum, state) => sum + counts[state], 0);
  const detail = PRUNABLE_STATES.map((state) => `${counts[state]} ${state}`).join(", ");
  const eventsText = bySettings ? ` and ${events} event${events === 1 ? "" : "s"}` : "";
  ctx.out(
    `${dryRun ? "would prune" : "pruned"} ${total} job${
      total === 1 ? "" : "s"
    } (${detail})${eventsText}`,
  );
}
