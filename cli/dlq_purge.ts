/** `queuectl dlq purge [--older-than D]`: deletes dead jobs and their history. */
import { UsageError } from "../lib/errors.ts";
import { parseDuration } from "../lib/job_input.ts";
import { type CliContext, withStorage } from "./_context.ts";

/** Deletes dead jobs (older than a duration when given) and prints how many. */
export async function dlqPurge(
  ctx: CliContext,
  options: { olderThan?: string | undefined },
): Promise<void> {
  let olderThanMs: number | undefined;
  if (options.olderThan !== undefined) {
    const ms = parseDuration(options.olderThan);
    if (ms === null) {
      throw new UsageError(
        `Invalid duration "${options.olderThan}"`,
        'use seconds or parts like "90s", "12h", "7d"',
      );
    }
    olderThanMs = ms;
  }
  const n = await withStorage(ctx, (store) =>
    store.jobDeleteDead({
      olderThan: olderThanMs === undefined ? undefined : store.now() - olderThanMs,
    }));
  ctx.out(`purged ${n} dead job${n === 1 ? "" : "s"}`);
}
