/** `queuectl schedule list`: every schedule with its next and last run in its zone. */
import { formatInZone, type Schedule, scheduleView } from "../lib/schedule.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { table, truncate } from "./_format.ts";

/** A time as its schedule's zone reads it, or `-`. */
export function localTime(schedule: Schedule, ms: number | null): string {
  return ms === null ? "-" : formatInZone(ms, schedule.tz);
}

/** Prints every schedule as a table, or a JSON array with `json`. */
export async function scheduleList(ctx: CliContext, json: boolean): Promise<void> {
  const schedules = await withStorage(ctx, (store) => store.scheduleList());
  if (json) return printJson(ctx, schedules.map(scheduleView));
  if (schedules.length === 0) {
    ctx.out("no schedules; add one with `queuectl schedule add <name> --cron <expr> -- <cmd...>`");
    return;
  }
  ctx.out(table(
    ["NAME", "CRON", "ZONE", "NEXT RUN", "LAST RUN", "SKIPPED", "COMMAND"],
    schedules.map((s) => [
      s.name,
      s.cron,
      s.tz,
      s.paused ? "paused" : localTime(s, s.next_run_at),
      localTime(s, s.last_run_at),
      String(s.skipped),
      truncate(s.job.command, 40),
    ]),
  ));
}
