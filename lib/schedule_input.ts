/**
 * Validation of a new schedule (`schedule add`): its name, cron expression,
 * zone and catch-up mode (`lib/schedule.ts`), and its job template, which
 * passes the same checks as an enqueued job (`parseJobInput`) minus the
 * fields a schedule sets itself (id, due time). All of it is checked before
 * anything is stored.
 */
import { UsageError } from "./errors.ts";
import { parseJobInput } from "./job_input.ts";
import {
  type CatchUp,
  checkCron,
  checkScheduleName,
  checkTimeZone,
  localTimeZone,
  parseCatchUp,
  type ScheduleJob,
} from "./schedule.ts";

/**
 * Job fields a schedule's template may not hold: the schedule sets them for
 * each due time (`key` is `schedule:<name>` without `--overlap`), and
 * `after` would tie every run to one job.
 */
const SET_BY_SCHEDULE = [
  "id",
  "run_at",
  "delay",
  "key",
  "after",
  "expires_at",
  "after_any",
  "unique_for",
];

/** A schedule's input as the CLI (or an API) gives it, before checks. */
export interface ScheduleInput {
  name: string;
  cron: string | undefined;
  tz?: string | undefined;
  catchUp?: string | undefined;
  overlap?: boolean | undefined;
  /** The job's fields, as a JSON object or built from `-- <cmd...>` and job options. */
  job: Record<string, unknown>;
}

/** A checked schedule, ready to store once its next due time is known. */
export interface CheckedSchedule {
  name: string;
  cron: string;
  tz: string;
  catch_up: CatchUp;
  overlap: boolean;
  job: ScheduleJob;
}

/** Checks every part of a new schedule; the first problem is a UsageError (exit 2). */
export async function parseScheduleInput(
  input: ScheduleInput,
  now: number,
): Promise<CheckedSchedule> {
  const name = checkScheduleName(input.name);
  if (input.cron === undefined || input.cron.trim() === "") {
    throw new UsageError(
      `Schedule "${name}" needs --cron`,
      'e.g. --cron "0 3 * * *" (03:00 every day) or --cron @hourly',
    );
  }
  const cron = checkCron(input.cron);
  const tz = input.tz === undefined ? localTimeZone() : checkTimeZone(input.tz);
  const catchUp = parseCatchUp(input.catchUp ?? "one");
  for (const field of SET_BY_SCHEDULE) {
    if (field in input.job) {
      throw new UsageError(
        `Invalid job of schedule "${name}": "${field}" is set by the schedule`,
        "each due time's job gets the id <name>@<due time>, runs at that time, and without " +
          "--overlap has the key schedule:<name>",
      );
    }
  }
  const job = await parseJobInput(input.job, now);
  return {
    name,
    cron,
    tz,
    catch_up: catchUp,
    overlap: input.overlap === true,
    job: {
      command: job.command,
      queue: job.queue,
      priority: job.priority,
      max_retries: job.max_retries,
      timeout: job.timeout,
      env: job.env,
      cwd: job.cwd,
      ...(job.retry_on === null ? {} : { retry_on: job.retry_on }),
      ...(job.group === null ? {} : { group: job.group }),
      ...(job.backoff_base === null ? {} : { backoff_base: job.backoff_base }),
      ...(job.backoff_max === null ? {} : { backoff_max: job.backoff_max }),
    },
  };
}
