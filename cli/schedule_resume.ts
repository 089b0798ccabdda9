/** `queuectl schedule resume <name>`: runs again from its next due time after now. */
import { formatInZone } from "../lib/schedule.ts";
import { resumeSchedule } from "../lib/schedule_actions.ts";
import { type CliContext, withStorage } from "./_context.ts";

/** Resumes the schedule (missed times are not caught up); an unknown name is exit 1. */
export async function scheduleResume(ctx: CliContext, name: string): Promise<void> {
  const schedule = await withStorage(ctx, (store) => resumeSchedule(store, name));
  const next = schedule.next_run_at === null
    ? "never"
    : `${formatInZone(schedule.next_run_at, schedule.tz)} (${schedule.tz})`;
  ctx.out(`resumed schedule ${name}; next run ${next}`);
}
