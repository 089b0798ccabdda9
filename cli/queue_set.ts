/** `queuectl queue set <name> --concurrency N`: a queue's limit across all workers. */
import { UsageError } from "../lib/errors.ts";
import { parseConcurrency, parseQueueName } from "../lib/options.ts";
import { type CliContext, withStorage } from "./_context.ts";

/** Sets a queue's concurrency limit (0 = no limit). */
export async function queueSet(
  ctx: CliContext,
  rawName: string,
  options: { concurrency?: string | undefined },
): Promise<void> {
  const name = parseQueueName(rawName);
  if (options.concurrency === undefined) {
    throw new UsageError("Nothing to set", "e.g. queuectl queue set reports --concurrency 2");
  }
  const concurrency = parseConcurrency(options.concurrency);
  await withStorage(ctx, (store) => store.queueSet({ name, concurrency }));
  ctx.out(
    concurrency === 0
      ? `queue ${name}: no concurrency limit`
      : `queue ${name}: at most ${concurrency} running at once`,
  );
}
