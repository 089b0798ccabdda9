/** `queuectl dlq retry <id>... | --all`: dead jobs back to pending with attempts reset. */
import { ConflictError, jobNotFound, UsageError } from "../lib/errors.ts";
import { type CliContext, withStorage } from "./_context.ts";

/** Retries the given dead jobs, or all of them with `all`. */
export async function dlqRetry(ctx: CliContext, ids: string[], all: boolean): Promise<void> {
  if (all === (ids.length > 0)) {
    throw new UsageError("Give job ids or --all, not both and not neither");
  }
  await withStorage(ctx, async (store) => {
    const now = store.now();
    if (all) {
      const n = await store.jobRetryAllDead({ now });
      ctx.out(`moved ${n} job${n === 1 ? "" : "s"} from the DLQ back to pending`);
      return;
    }
    const unique = [...new Set(ids)];
    for (const id of unique) {
      const job = await store.jobGet({ id });
      if (!job) throw jobNotFound(id);
      if (job.state !== "dead") {
        throw new ConflictError(
          `Cannot retry job "${id}" from the DLQ: job is ${job.state}`,
          job.state === "failed"
            ? "use `queuectl retry` for failed jobs"
            : "only dead jobs are in the DLQ",
        );
      }
    }
    const jobs = await store.jobRetry({ ids: unique, now });
    for (const job of jobs) ctx.out(`job ${job.id} moved from the DLQ back to pending`);
  });
}
