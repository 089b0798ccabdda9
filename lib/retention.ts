/**
 * Retention rules (README "Keeping the database small"), shared by `prune` and the workers'
 * pruner: which final jobs are old enough to go, and deleting them in
 * small batches (one short transaction each) so claims never wait long.
 */
import type { Config } from "./config.ts";
import {
  PRUNABLE_STATES,
  type PruneCounts,
  type PruneParams,
  type Storage,
} from "./storage/storage.ts";

/** Jobs per transaction. */
export const PRUNE_BATCH = 500;
/** The shortest pause between batches, so the event loop and other writers get their turn. */
const BATCH_GAP_MS = 5;
/**
 * The pause after a batch, as a multiple of the time the batch took: 9 keeps
 * the pruner to a tenth of the time (on SQLite every batch holds the write
 * lock, and in a worker process blocks its event loop while it runs). A
 * backlog of 100,000 jobs then takes about half a minute to clear.
 */
export const PRUNE_REST_RATIO = 9;

/** The settings' cutoffs at `now`: jobs final before them go; 0 = keep forever (null). */
export function retentionCutoffs(config: Config, now: number): PruneParams["before"] {
  const cutoff = (seconds: number) => (seconds > 0 ? now - seconds * 1000 : null);
  return {
    completed: cutoff(config.keep_completed),
    cancelled: cutoff(config.keep_cancelled),
    dead: cutoff(config.keep_dead),
  };
}

/** The sum of two per-state counts. */
export function addCounts(a: PruneCounts, b: PruneCounts): PruneCounts {
  return {
    completed: a.completed + b.completed,
    cancelled: a.cancelled + b.cancelled,
    dead: a.dead + b.dead,
  };
}

/**
 * Deletes every job `before` selects, `batch` jobs per transaction, resting
 * `restRatio` times as long as each batch took (default
 * {@linkcode PRUNE_REST_RATIO}) and calling `between()` after each full
 * batch (to renew a turn, or to stop by returning false). Returns how many
 * per state.
 */
export async function pruneInBatches(
  store: Storage,
  before: PruneParams["before"],
  options: { batch?: number; restRatio?: number; between?: () => Promise<boolean> } = {},
): Promise<PruneCounts> {
  const batch = options.batch ?? PRUNE_BATCH;
  const restRatio = options.restRatio ?? PRUNE_REST_RATIO;
  let total: PruneCounts = { completed: 0, cancelled: 0, dead: 0 };
  while (true) {
    const started = performance.now();
    const counts = await store.jobPrune({ before, limit: batch });
    const tookMs = performance.now() - started;
    total = addCounts(total, counts);
    const n = PRUNABLE_STATES.reduce((sum, state) => sum + counts[state], 0);
    if (n < batch) return total;
    const restMs = Math.max(BATCH_GAP_MS, tookMs * restRatio);
    await new Promise((resolve) => setTimeout(resolve, restMs));
    if (options.between && !(await options.between())) return total;
  }
}

/** Events per transaction when pruning the event log. */
export const EVENT_PRUNE_BATCH = 5000;

/**
 * Deletes events older than `keep_events` (0 keeps them forever), in
 * batches; returns how many went (README "Events"). With `dryRun`, only
 * counts them (`prune --dry-run`).
 */
export async function pruneEvents(
  store: Storage,
  config: Config,
  now: number,
  between?: () => Promise<boolean>,
  options: { dryRun?: boolean } = {},
): Promise<number> {
  if (!(config.keep_events > 0)) return 0;
  const before = now - config.keep_events * 1000;
  if (options.dryRun) return await store.eventPruneCount({ before });
  let total = 0;
  while (true) {
    const n = await store.eventPrune({ before, limit: EVENT_PRUNE_BATCH });
    total += n;
    if (n < EVENT_PRUNE_BATCH) return total;
    await new Promise((resolve) => setTimeout(resolve, BATCH_GAP_MS));
    if (between && !(await between())) return total;
  }
}
