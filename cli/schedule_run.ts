/** `queuectl schedule run <name>`: enqueues one job of the schedule now. */
import { runScheduleNow } from "../lib/schedule_actions.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";

/** Enqueues the schedule's job now, id `<name>@<now ISO>`; prints its id (the job with `json`). */
export async function scheduleRun(ctx: CliContext, name: string, json: boolean): Promise<void> {
  const job = await withStorage(ctx, (store) => runScheduleNow(store, name));
  if (json) return printJson(ctx, job);
  ctx.out(job.id);
}
