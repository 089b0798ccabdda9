/** `queuectl schedule pause <name>`: no more jobs from it until resumed. */
import { type CliContext, withStorage } from "./_context.ts";

/** Pauses the schedule (an unknown name is exit 1). */
export async function schedulePause(ctx: CliContext, name: string): Promise<void> {
  await withStorage(ctx, (store) => store.scheduleSetPaused({ name, paused: true }));
  ctx.out(`paused schedule ${name}`);
}
