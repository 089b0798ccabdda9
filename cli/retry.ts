/**
 * `queuectl retry <id>...`: a failed job runs now; a dead or cancelled one
 * starts over (blocked again while a dependency is open).
 */
import { type CliContext, withStorage } from "./_context.ts";

/** Retries every id, all or none; prints one line per job. */
export async function retry(ctx: CliContext, ids: string[]): Promise<void> {
  // An id given twice is retried once, not refused for the state the first retry left.
  const unique = [...new Set(ids)];
  const jobs = await withStorage(ctx, (store) => store.jobRetry({ ids: unique, now: store.now() }));
  for (const job of jobs) {
    ctx.out(
      job.state === "blocked"
        ? `job ${job.id} is blocked again until its dependencies complete`
        : `job ${job.id} is pending again (attempts so far: ${job.attempts})`,
    );
  }
}
