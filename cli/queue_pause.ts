/** `queuectl queue pause|resume <name>`: workers start nothing from a paused queue. */
import { parseQueueName } from "../lib/options.ts";
import { type CliContext, withStorage } from "./_context.ts";

/** Pauses (or, with `paused` false, resumes) a queue; any valid name, jobs or not. */
export async function queuePause(ctx: CliContext, rawName: string, paused: boolean): Promise<void> {
  const name = parseQueueName(rawName);
  await withStorage(ctx, (store) => store.queueSet({ name, paused }));
  ctx.out(
    paused
      ? `queue ${name} paused; running jobs finish, nothing new starts`
      : `queue ${name} resumed`,
  );
}
