/**
 * `queuectl progress <0-100> [--message TEXT]`: a running job reports its
 * progress (README "Progress"). The job, attempt and database come from
 * `QUEUECTL_JOB_ID`, `QUEUECTL_ATTEMPT` and `QUEUECTL_DB`, which workers set.
 */
import { ConflictError, UsageError } from "../lib/errors.ts";
import { checkProgressMessage, parseProgress } from "../lib/event.ts";
import { type CliContext, withStorage } from "./_context.ts";

/** Writes within this long of the attempt's previous write are dropped (except 100). */
export const PROGRESS_COALESCE_MS = 1000;

/** Options of `progress`. */
export interface ProgressOptions {
  message?: string | undefined;
}

/** Stores the progress of the job this process runs in; prints nothing. */
export async function progress(
  ctx: CliContext,
  rawValue: string,
  options: ProgressOptions,
): Promise<void> {
  const value = parseProgress(rawValue);
  const message = options.message === undefined ? null : checkProgressMessage(options.message);
  const id = Deno.env.get("QUEUECTL_JOB_ID");
  const attempt = Number(Deno.env.get("QUEUECTL_ATTEMPT"));
  if (!id || !Number.isInteger(attempt) || attempt < 1) {
    throw new UsageError(
      "Not inside a job: QUEUECTL_JOB_ID and QUEUECTL_ATTEMPT are not set",
      "call `queuectl progress` from a job's command, which a worker runs",
    );
  }
  const result = await withStorage(ctx, (store) =>
    store.jobProgressSet({
      id,
      attempt,
      progress: value,
      message,
      now: store.now(),
      coalesceMs: PROGRESS_COALESCE_MS,
    }));
  if (result === "not_live") {
    throw new ConflictError(
      `Cannot report progress of job "${id}" attempt ${attempt}: the attempt is no longer running`,
    );
  }
}
