/**
 * What `cancel`, `retry`, `delete`, `hold` and `release` share: ids or a
 * filter (never both), `--all` to act on every job, `--dry-run` to count
 * first (README "Operating a queue"). The loop itself is `lib/bulk.ts`.
 */
import { type BulkResult, bulkSummary, DRY_RUN_SAMPLE, runBulk } from "../lib/bulk.ts";
import { UsageError } from "../lib/errors.ts";
import { FILTER_FLAGS, type FilterWords, parseJobFilter } from "../lib/job_filter.ts";
import { type BulkAction, bulkStates } from "../lib/state.ts";
import type { JobFilter, Storage } from "../lib/storage/storage.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";

/** The flags every action by filter takes, as given on the command line. */
export interface BulkOptions extends FilterWords {
  all?: boolean | undefined;
  dryRun?: boolean | undefined;
  json?: boolean | undefined;
}

/** How a command was asked to act: on ids, or on a filter (`{}` with `--all`). */
export type Target = { ids: string[] } | { filter: JobFilter };

/**
 * Checks ids against the filter flags before anything is opened (exit 2):
 * ids or a filter, not both; no filter without `--all`; `--dry-run` only
 * with a filter.
 */
export function parseTarget(action: BulkAction, ids: string[], options: BulkOptions): Target {
  const filter = parseJobFilter(options, Date.now());
  if (ids.length > 0) {
    if (filter !== null || options.all) {
      throw new UsageError(
        `Give job ids or a filter to ${action}, not both`,
        `e.g. queuectl ${action} job1 job2, or queuectl ${action} --state failed`,
      );
    }
    if (options.dryRun) {
      throw new UsageError("--dry-run needs a filter", `e.g. queuectl ${action} --tag t --dry-run`);
    }
    // An id given twice is acted on once, not refused for the state the first left.
    return { ids: [...new Set(ids)] };
  }
  const states = bulkStates(action);
  if (filter?.state !== undefined && !states.includes(filter.state)) {
    throw new UsageError(
      `Cannot ${action} ${filter.state} jobs`,
      `${action} applies to ${states.join(", ")} jobs`,
    );
  }
  if (filter === null && !options.all) {
    throw new UsageError(
      `Nothing to ${action}: no job ids and no filter`,
      `add a filter (${FILTER_FLAGS}) or --all to ${action} every job it applies to`,
    );
  }
  return { filter: filter ?? {} };
}

/** Runs an action by filter (or counts it with `--dry-run`) and prints what it did. */
export async function runFiltered(
  ctx: CliContext,
  action: BulkAction,
  filter: JobFilter,
  options: BulkOptions,
): Promise<void> {
  await withStorage(ctx, async (store) => {
    if (options.dryRun) return await dryRun(ctx, store, action, filter, options.json === true);
    const progress = !options.json && Deno.stderr.isTerminal();
    const encoder = new TextEncoder();
    const result = await runBulk(store, action, filter, {
      onProgress: progress
        ? (r) => Deno.stderr.writeSync(encoder.encode(`\r${bulkSummary(r)}…\x1b[K`))
        : undefined,
    });
    if (progress) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
    if (options.json) return printJson(ctx, bulkJson(result, false, null));
    ctx.out(bulkSummary(result));
  });
}

/** The `--json` document of an action by filter. */
function bulkJson(result: BulkResult, dryRun: boolean, ids: string[] | null) {
  return {
    action: result.action,
    dry_run: dryRun,
    count: result.changed,
    requested: result.requested,
    skipped: result.skipped,
    ...(ids === null ? {} : { ids }),
  };
}

async function dryRun(
  ctx: CliContext,
  store: Storage,
  action: BulkAction,
  filter: JobFilter,
  json: boolean,
): Promise<void> {
  const { count, ids } = await store.jobBulkCount({ action, filter, sample: DRY_RUN_SAMPLE });
  if (json) {
    return printJson(
      ctx,
      bulkJson({ action, changed: count, requested: 0, skipped: 0 }, true, ids),
    );
  }
  const more = count > ids.length ? `, … (first ${ids.length} of ${count})` : "";
  ctx.out(
    `would ${action} ${count} job${count === 1 ? "" : "s"}${
      ids.length > 0 ? `: ${ids.join(", ")}${more}` : ""
    } (dry run: nothing changed)`,
  );
}
