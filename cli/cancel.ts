/**
 * `queuectl cancel <id>...`: pending, blocked and failed jobs stop at once
 * (and the jobs waiting on them); running ones are stopped first.
 */
import { type CliContext, withStorage } from "./_context.ts";

/** Cancels every id, all or none; prints one line per job. */
export async function cancel(ctx: CliContext, ids: string[]): Promise<void> {
  // An id given twice is cancelled once, not refused for the state the first cancel left.
  const unique = [...new Set(ids)];
  const jobs = await withStorage(
    ctx,
    (store) => store.jobCancel({ ids: unique, now: store.now() }),
  );
  for (const job of jobs) {
    ctx.out(
      job.state === "cancelled"
        ? `job ${job.id} cancelled`
        : `job ${job.id} is running; its worker will stop it and mark it cancelled`,
    );
  }
}
