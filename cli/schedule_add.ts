/** `queuectl schedule add <name> --cron <expr> ... -- <cmd...>` (or a job template as JSON). */
import { UsageError } from "../lib/errors.ts";
import { parseJsonObject } from "../lib/job_input.ts";
import { formatInZone, nextDueAfter, scheduleView } from "../lib/schedule.ts";
import { parseScheduleInput } from "../lib/schedule_input.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { shellQuote } from "./_format.ts";

/** Options of `schedule add`, as given on the command line. */
export interface ScheduleAddOptions {
  cron?: string | undefined;
  tz?: string | undefined;
  catchUp?: string | undefined;
  overlap?: boolean | undefined;
  priority?: string | undefined;
  timeout?: string | undefined;
  maxRetries?: string | undefined;
  queue?: string | undefined;
}

function numberOrText(value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  return /^-?(\d+\.?\d*|\.\d+)$/.test(value.trim()) ? Number(value) : value;
}

/**
 * Adds a schedule; its job is the command after `--` with the job options,
 * or one JSON argument. Everything is checked before anything is stored.
 * Prints the name and the next run (or the schedule with `json`).
 */
export async function scheduleAdd(
  ctx: CliContext,
  name: string,
  job: string[],
  options: ScheduleAddOptions,
  dashDash: boolean,
  json: boolean,
): Promise<void> {
  const { cron, tz, catchUp, overlap, ...jobOptions } = options;
  const fields: [string, unknown][] = [
    ["priority", numberOrText(jobOptions.priority)],
    ["timeout", numberOrText(jobOptions.timeout)],
    ["max_retries", numberOrText(jobOptions.maxRetries)],
    ["queue", jobOptions.queue],
  ];
  let input: Record<string, unknown>;
  if (dashDash) {
    if (job.every((arg) => arg.trim() === "")) {
      throw new UsageError(`Schedule "${name}" has no command`, "give it after --: -- <cmd...>");
    }
    input = { command: job.map(shellQuote).join(" ") };
    for (const [key, value] of fields) if (value !== undefined) input[key] = value;
  } else {
    if (fields.some(([, value]) => value !== undefined)) {
      throw new UsageError(
        "Job options need the command after --",
        "e.g. queuectl schedule add nightly --cron @daily --queue ops -- backup.sh, or put the fields in the JSON",
      );
    }
    if (job.length !== 1) {
      throw new UsageError(
        job.length === 0 ? `Schedule "${name}" has no job` : "Give the job as one JSON argument",
        `give -- <command...>, or a job as JSON, e.g. '{"command":"backup.sh"}'`,
      );
    }
    input = parseJsonObject(job[0]!);
  }
  const checked = await parseScheduleInput(
    { name, cron, tz, catchUp, overlap, job: input },
    Date.now(),
  );
  const stored = await withStorage(ctx, (store) =>
    store.scheduleInsert({
      schedule: {
        ...checked,
        paused: false,
        next_run_at: nextDueAfter(checked.cron, checked.tz, store.now()),
      },
      now: store.now(),
    }));
  if (json) return printJson(ctx, scheduleView(stored));
  const next = stored.next_run_at === null
    ? "never (the expression matches no later time)"
    : `${formatInZone(stored.next_run_at, stored.tz)} (${stored.tz})`;
  ctx.out(`added schedule ${stored.name}; next run ${next}`);
}
