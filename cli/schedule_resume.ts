/** `queuectl schedule resume <name>`: runs again from its next due time after now. */
import { formatInZone, nextDueAfter, scheduleNotFound } from "../lib/schedule.ts";
import { type CliContext, withStorage } from "./_context.ts";

/**
 * Resumes the schedule, its next due time computed from now: the times
 * that passed while it was paused are not caught up (pausing means "not
 * these"). An unknown name is exit 1.
 */
export async function scheduleResume(ctx: CliContext, name: string): Promise<void> {
  const schedule = await withStorage(ctx, async (store) => {
    const current = await store.scheduleGet({ name });
    if (!current) throw scheduleNotFound(name);
    return await store.scheduleSetPaused({
      name,
      paused: false,
      nextRunAt: nextDueAfter(current.cron, current.tz, store.now()),
    });
  });
  const next = schedule.next_run_at === null
    ? "never"
    : `${formatInZone(schedule.next_run_at, schedule.tz)} (${schedule.tz})`;
  ctx.out(`resumed schedule ${name}; next run ${next}`);
}
