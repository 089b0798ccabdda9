/**
 * Actions by filter (README "Operating a queue"): the loop over
 * `Storage.jobBulkStep`, a few hundred jobs per transaction so workers
 * keep claiming between batches (DESIGN.md "Operator controls"). Shared by
 * the CLI and the dashboard; it knows nothing of either.
 */
import type { BulkAction } from "./state.ts";
import type { JobFilter, Storage } from "./storage/storage.ts";

/** Jobs per transaction: short enough that a claim waits at most a few milliseconds. */
export const BULK_BATCH = 500;

/** The shortest pause between batches, so a claim waiting on the lock gets its turn. */
const BATCH_GAP_MS = 5;

/**
 * The pause after a batch, as a multiple of the time the batch took: 3 keeps
 * a bulk action to a quarter of the time (on SQLite every batch holds the
 * write lock, and a claim that met it sleeps in SQLite's busy handler, so
 * it needs a gap longer than that sleep to get in). The same idea as the
 * pruner's rest (lib/retention.ts), less patient: an operator is waiting.
 */
export const BULK_REST_RATIO = 3;

/** How many ids a dry run shows. */
export const DRY_RUN_SAMPLE = 10;

/** What an action by filter did, summed over its batches. */
export interface BulkResult {
  action: BulkAction;
  /** Jobs changed. */
  changed: number;
  /** Running jobs asked to stop (`cancel`). */
  requested: number;
  /** Matching jobs left as they were (a retry refused by a key or a dependency). */
  skipped: number;
}

/** Runs an action by filter to its end; `onProgress` hears the running totals after each batch. */
export async function runBulk(
  store: Storage,
  action: BulkAction,
  filter: JobFilter,
  options: {
    batch?: number;
    restRatio?: number;
    onProgress?: (result: BulkResult) => void;
  } = {},
): Promise<BulkResult> {
  const result: BulkResult = { action, changed: 0, requested: 0, skipped: 0 };
  const restRatio = options.restRatio ?? BULK_REST_RATIO;
  let cursor: string | null = null;
  do {
    const started = performance.now();
    const step = await store.jobBulkStep({
      action,
      filter,
      now: store.now(),
      limit: options.batch ?? BULK_BATCH,
      cursor,
    });
    result.changed += step.changed;
    result.requested += step.requested;
    result.skipped += step.skipped;
    cursor = step.cursor;
    options.onProgress?.(result);
    if (cursor !== null) {
      const restMs = Math.max(BATCH_GAP_MS, (performance.now() - started) * restRatio);
      await new Promise((resolve) => setTimeout(resolve, restMs));
    }
  } while (cursor !== null);
  return result;
}

/** The past tense of an action, for reports: `cancelled 5000 jobs`. */
export const ACTION_DONE: Record<BulkAction, string> = {
  cancel: "cancelled",
  retry: "retried",
  delete: "deleted",
  hold: "held",
  release: "released",
};

/** One line saying what an action by filter did (the CLI's report, the dashboard's notice). */
export function bulkSummary(result: BulkResult): string {
  const n = (count: number) => `${count} job${count === 1 ? "" : "s"}`;
  let line = `${ACTION_DONE[result.action]} ${n(result.changed)}`;
  if (result.requested > 0) {
    line += `; asked ${result.requested} running job${
      result.requested === 1 ? "" : "s"
    } to stop (their workers cancel them)`;
  }
  if (result.skipped > 0) {
    line += `; left ${
      n(result.skipped)
    } as they were (key held by another job, or a dependency dead or cancelled)`;
  }
  return line;
}
