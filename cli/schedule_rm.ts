/** `queuectl schedule rm <name>`: removes a schedule; the jobs it enqueued stay. */
import { type CliContext, withStorage } from "./_context.ts";

/** Removes the schedule (an unknown name is exit 1). */
export async function scheduleRm(ctx: CliContext, name: string): Promise<void> {
  await withStorage(ctx, (store) => store.scheduleDelete({ name }));
  ctx.out(`removed schedule ${name}`);
}
