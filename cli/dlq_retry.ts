/** `queuectl dlq retry <id>... | --all`: dead jobs back to pending with attempts reset. */
import { UsageError } from "../lib/errors.ts";
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
    // Checked and changed in one transaction: no job can change in between.
    const jobs = await store.jobRetry({ ids: [...new Set(ids)], now, dlqOnly: true });
    for (const job of jobs) ctx.out(`job ${job.id} moved from the DLQ back to pending`);
  });
}
