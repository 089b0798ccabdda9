/**
 * `queuectl queue set <name> [--concurrency N] [--rate N/PERIOD|off]
 * [--group-concurrency N]`: a queue's limits across all workers (README
 * "Queues", "Flow control").
 */
import { UsageError } from "../lib/errors.ts";
import {
  formatRate,
  parseConcurrency,
  parseGroupConcurrency,
  parseQueueName,
  parseRate,
} from "../lib/options.ts";
import { type CliContext, withStorage } from "./_context.ts";

/** Sets the limits given (each checked before anything is written); the others keep their values. */
export async function queueSet(
  ctx: CliContext,
  rawName: string,
  options: {
    concurrency?: string | undefined;
    rate?: string | undefined;
    groupConcurrency?: string | undefined;
  },
): Promise<void> {
  const name = parseQueueName(rawName);
  if (
    options.concurrency === undefined && options.rate === undefined &&
    options.groupConcurrency === undefined
  ) {
    throw new UsageError(
      "Nothing to set",
      "e.g. queuectl queue set reports --concurrency 2, --rate 10/1s or --group-concurrency 1",
    );
  }
  const concurrency = options.concurrency === undefined
    ? undefined
    : parseConcurrency(options.concurrency);
  const rate = options.rate === undefined ? undefined : parseRate(options.rate);
  const groupConcurrency = options.groupConcurrency === undefined
    ? undefined
    : parseGroupConcurrency(options.groupConcurrency);
  await withStorage(ctx, (store) => store.queueSet({ name, concurrency, rate, groupConcurrency }));
  if (concurrency !== undefined) {
    ctx.out(
      concurrency === 0
        ? `queue ${name}: no concurrency limit`
        : `queue ${name}: at most ${concurrency} running at once`,
    );
  }
  if (rate !== undefined) {
    ctx.out(
      rate === null
        ? `queue ${name}: no rate limit`
        : `queue ${name}: at most ${formatRate(rate)} starts`,
    );
  }
  if (groupConcurrency !== undefined) {
    ctx.out(
      groupConcurrency === 0
        ? `queue ${name}: no group limit`
        : `queue ${name}: at most ${groupConcurrency} running at once per group`,
    );
  }
}
