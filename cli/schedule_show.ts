/** `queuectl schedule show <name>`: one schedule, its counts and its last job. */
import { scheduleNotFound } from "../lib/errors.ts";
import { scheduleView } from "../lib/schedule.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { paintState } from "./_format.ts";

/** Prints a schedule's fields and the state of its last job (JSON with `json`). */
export async function scheduleShow(ctx: CliContext, name: string, json: boolean): Promise<void> {
  const { schedule, lastJob } = await withStorage(ctx, async (store) => {
    const schedule = await store.scheduleGet({ name });
    if (!schedule) throw scheduleNotFound(name);
    const lastJob = schedule.last_job_id === null
      ? null
      : await store.jobGet({ id: schedule.last_job_id });
    return { schedule, lastJob };
  });
  const view = scheduleView(schedule);
  if (json) return printJson(ctx, { ...view, last_job: lastJob });
  const lines: [string, string][] = [
    ["name", view.name],
    ["cron", view.cron],
    ["zone", view.tz],
    ["catch-up", view.catch_up],
    ["overlap", view.overlap ? "yes" : `no (key schedule:${view.name})`],
    ["paused", view.paused ? "yes" : "no"],
    ["next run", view.paused ? "paused" : view.next_run_local ?? "never"],
    ["last run", view.last_run_local ?? "-"],
    [
      "last job",
      view.last_job_id === null
        ? "-"
        : `${view.last_job_id} (${lastJob ? paintState(ctx.color, lastJob.state) : "removed"})`,
    ],
    ["skipped", `${view.skipped} (previous job still active)`],
    ["missed", `${view.missed} (no worker ran; catch-up ${view.catch_up})`],
    ["command", view.job.command],
    ["queue", view.job.queue],
    ["priority", String(view.job.priority)],
    ["max_retries", view.job.max_retries === null ? "-" : String(view.job.max_retries)],
    ["timeout", view.job.timeout === null ? "-" : String(view.job.timeout)],
    ["env", view.job.env === null ? "-" : JSON.stringify(view.job.env)],
    ["cwd", view.job.cwd ?? "-"],
    ["retry_on", view.job.retry_on ? JSON.stringify(view.job.retry_on) : "-"],
    ["created_at", view.created_at],
  ];
  for (const [key, value] of lines) ctx.out(`${(key + ":").padEnd(13)} ${value}`);
}
