/**
 * Schedules (README "Recurring jobs"), pure: cron expressions and time zones
 * checked with `npm:croner` (no hand-written cron parser), the next due
 * times in a schedule's zone, and the catch-up plan for due times missed
 * while no worker ran. Time is a parameter everywhere; nothing here reads
 * a clock or a store.
 */
import { Cron } from "croner";
import { errorMessage, UsageError } from "./errors.ts";
import { isoTime, type NewJob, type RetryOn } from "./job.ts";

/** Every `--catch-up` word: what to do with due times missed while no worker ran. */
export const CATCH_UP_MODES = ["none", "one", "all"] as const;

/** How a schedule catches up on missed due times. */
export type CatchUp = typeof CATCH_UP_MODES[number];

/** At most this many jobs for the missed times of `--catch-up all` (the latest ones). */
export const MAX_CATCH_UP = 1000;

/**
 * A due time at most this late is on time, not missed: the firer wakes by a
 * timer and may run a little late under load. Shorter than the shortest
 * sensible period (2 s), so a missed time is never mistaken for an on-time one.
 */
export const ON_TIME_MS = 1500;

/** The pattern of schedule names: an id's characters, short enough to leave room for `@<time>`. */
export const SCHEDULE_NAME_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;

/** The nicknames a cron expression may be, besides 5 or 6 fields. */
export const CRON_NICKNAMES = ["@hourly", "@daily", "@weekly", "@monthly", "@yearly"] as const;

const FIELD_NAMES_6 = ["second", "minute", "hour", "day of month", "month", "day of week"];

/** The job a schedule enqueues at each due time: a job's fields without id or times. */
export type ScheduleJob =
  & Omit<
    NewJob,
    | "id"
    | "run_at"
    | "after"
    | "key"
    | "retry_on"
    | "group"
    | "backoff_base"
    | "backoff_max"
    | "expires_at"
    | "after_any"
    | "unique_for"
  >
  & {
    /** Failures that are retried (README "Job flow"); absent retries every failure. */
    retry_on?: RetryOn[] | undefined;
    /** The group of README "Flow control"; absent for none. */
    group?: string | undefined;
    backoff_base?: number | undefined;
    backoff_max?: number | undefined;
  };

/** A schedule as stored; times are epoch milliseconds. */
export interface Schedule {
  name: string;
  cron: string;
  /** An IANA zone the cron expression is read in, e.g. `Europe/Berlin` or `UTC`. */
  tz: string;
  catch_up: CatchUp;
  /** Whether a due time enqueues a job even while the previous one is still active. */
  overlap: boolean;
  job: ScheduleJob;
  paused: boolean;
  /** The next due time not yet fired; `null` when the expression has no more (or paused). */
  next_run_at: number | null;
  /** The latest due time that enqueued a job. */
  last_run_at: number | null;
  last_job_id: string | null;
  /** Due times skipped because the previous job was still active (no `--overlap`). */
  skipped: number;
  /** Due times missed while no worker ran and left out by `--catch-up`. */
  missed: number;
  created_at: number;
}

/** A new schedule, before it is stored. */
export type NewSchedule = Omit<
  Schedule,
  "last_run_at" | "last_job_id" | "skipped" | "missed" | "created_at"
>;

/** Refuses a malformed schedule name (exit 2). */
export function checkScheduleName(name: string): string {
  if (!SCHEDULE_NAME_PATTERN.test(name)) {
    throw new UsageError(
      `Invalid schedule name "${name}"`,
      "use 1-100 letters, digits, '.', '_', ':' or '-'",
    );
  }
  return name;
}

/** Refuses a `--catch-up` word other than none, one or all (exit 2). */
export function parseCatchUp(value: string): CatchUp {
  if ((CATCH_UP_MODES as readonly string[]).includes(value)) return value as CatchUp;
  throw new UsageError(
    `Invalid --catch-up "${value}"`,
    `use one of ${CATCH_UP_MODES.join(", ")}`,
  );
}

/** The zone of this machine, used when a schedule is added without `--tz`. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** Checks an IANA time zone name (exit 2 when unknown); returns its canonical spelling. */
export function checkTimeZone(tz: string): string {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    throw new UsageError(
      `Unknown time zone "${tz}"`,
      "give an IANA zone such as UTC, Europe/Berlin or America/New_York",
    );
  }
}

/** Parsed expressions by zone and text: a firer computes times for the same few over and over. */
const parsed = new Map<string, Cron>();
const PARSED_MAX = 10_000;

function croner(expression: string, tz: string): Cron {
  const key = `${tz}\n${expression}`;
  let cron = parsed.get(key);
  if (!cron) {
    // No callback: croner starts no timer; the object only computes times.
    cron = new Cron(expression, { timezone: tz, paused: true });
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(key, cron);
  }
  return cron;
}

/** Why croner refuses an expression, without its class prefix. */
function reason(error: unknown): string {
  const message = errorMessage(error);
  return message.replace(/^CronPattern:\s*/, "");
}

/**
 * Checks a cron expression: 5 fields, 6 with seconds first, or a nickname.
 * A bad one is a UsageError naming the field. Returns it trimmed, with
 * single spaces between fields.
 */
export function checkCron(expression: string): string {
  const text = expression.trim().replace(/\s+/g, " ");
  const bad = (detail: string) =>
    new UsageError(
      `Invalid cron expression "${expression}": ${detail}`,
      "use 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly",
    );
  if (text.startsWith("@")) {
    if (!(CRON_NICKNAMES as readonly string[]).includes(text.toLowerCase())) {
      throw bad(`unknown nickname "${text}"`);
    }
    return text.toLowerCase();
  }
  const fields = text === "" ? [] : text.split(" ");
  if (fields.length !== 5 && fields.length !== 6) {
    throw bad(`it has ${fields.length} field${fields.length === 1 ? "" : "s"}, not 5 or 6`);
  }
  const names = fields.length === 6 ? FIELD_NAMES_6 : FIELD_NAMES_6.slice(1);
  // Each field alone, the others `*`, so the error names the first bad one.
  for (let i = 0; i < fields.length; i++) {
    const probe = fields.map((field, k) => (k === i ? field : "*")).join(" ");
    try {
      croner(probe, "UTC");
    } catch (error) {
      throw bad(`field ${i + 1} (${names[i]}) "${fields[i]}": ${reason(error)}`);
    }
  }
  try {
    croner(text, "UTC");
  } catch (error) {
    throw bad(reason(error));
  }
  return text;
}

/**
 * The first due time strictly after `after` (epoch ms), read in zone `tz`;
 * `null` when the expression matches no later time. Times are whole seconds.
 */
export function nextDueAfter(cron: string, tz: string, after: number): number | null {
  const next = croner(cron, tz).nextRun(new Date(after));
  return next ? next.getTime() : null;
}

/** The next `count` due times strictly after `after`. */
export function nextDueTimes(cron: string, tz: string, after: number, count: number): number[] {
  return croner(cron, tz).nextRuns(count, new Date(after)).map((d) => d.getTime());
}

/** What a firer does for one schedule at `now`. */
export interface FirePlan {
  /** Due times that get a job, oldest first. */
  dueTimes: number[];
  /** Due times missed while no worker ran and left out by the catch-up mode. */
  missed: number;
  /** The schedule's next due time after this firing (strictly after `now`), or `null`. */
  nextRunAt: number | null;
}

/**
 * Which due times get a job when a schedule is fired at `now` (pure).
 * `nextRunAt` is the schedule's earliest due time not yet fired. The due
 * times up to `now` split into on-time ones (at most {@linkcode ON_TIME_MS}
 * late: fired) and missed ones (no worker ran then): `none` skips the
 * missed, `one` fires the latest due time (missed or on time) once, `all`
 * fires every missed one too, the latest {@linkcode MAX_CATCH_UP}.
 */
export function planFire(
  params: { cron: string; tz: string; catchUp: CatchUp; nextRunAt: number; now: number },
): FirePlan {
  const { cron, tz, catchUp, nextRunAt, now } = params;
  if (nextRunAt > now) return { dueTimes: [], missed: 0, nextRunAt };
  const schedule = croner(cron, tz);
  // The due times in [nextRunAt, now], walking forward from the stored one
  // (usually it is the only one); past MAX_CATCH_UP + 1 of them, croner
  // counts back from now instead, so a year of downtime on a per-second
  // schedule costs no year of iteration.
  const due = [nextRunAt];
  let beyondWindow = 0;
  for (const date of schedule.enumerate(new Date(nextRunAt))) {
    const t = date.getTime();
    if (t > now) break;
    due.push(t);
    if (due.length > MAX_CATCH_UP + 1) {
      const latest = schedule.previousRuns(MAX_CATCH_UP + 1, new Date(now + 1))
        .map((d) => d.getTime()).reverse();
      beyondWindow = countBetween(cron, tz, nextRunAt, latest[0]!);
      due.splice(0, due.length, nextRunAt, ...latest);
      break;
    }
  }
  const nextAfterNow = schedule.nextRun(new Date(now))?.getTime() ?? null;
  const onTime = due.filter((t) => now - t <= ON_TIME_MS);
  const late = due.filter((t) => now - t > ON_TIME_MS);
  let fire: number[];
  switch (catchUp) {
    case "none":
      fire = onTime;
      break;
    case "one":
      fire = onTime.length > 0 ? onTime : late.slice(-1);
      break;
    case "all":
      fire = [...late, ...onTime].slice(-MAX_CATCH_UP);
      break;
  }
  const missed = due.length + beyondWindow - fire.length;
  return { dueTimes: fire, missed, nextRunAt: nextAfterNow };
}

/**
 * How many due times lie strictly between `from` and `to`, counted up to
 * 10,000 (croner walks them one by one; only the missed count needs it).
 */
function countBetween(cron: string, tz: string, from: number, to: number): number {
  const CAP = 10_000;
  let n = 0;
  for (const date of croner(cron, tz).enumerate(new Date(from))) {
    if (date.getTime() >= to || n >= CAP) break;
    n++;
  }
  return n;
}

/** The id of the job a schedule enqueues for a due time: `<name>@<ISO time>`. */
export function scheduleJobId(name: string, dueAt: number): string {
  return `${name}@${isoTime(dueAt)}`;
}

/** The unique key a schedule's jobs carry without `--overlap`: `schedule:<name>`. */
export function scheduleKey(name: string): string {
  return `schedule:${name}`;
}

/**
 * The jobs for a schedule's due times, due at those times; without
 * `overlap` each carries the key `schedule:<name>`, so a due time that comes
 * while the previous job is active adds nothing (the unique keys of README "Job flow").
 */
export function scheduleJobs(
  schedule: Pick<Schedule, "name" | "job" | "overlap">,
  dueTimes: number[],
): NewJob[] {
  const { retry_on, group, backoff_base, backoff_max, ...job } = schedule.job;
  return dueTimes.map((dueAt) => ({
    ...job,
    id: scheduleJobId(schedule.name, dueAt),
    run_at: dueAt,
    after: null,
    key: schedule.overlap ? null : scheduleKey(schedule.name),
    retry_on: retry_on ?? null,
    group: group ?? null,
    backoff_base: backoff_base ?? null,
    backoff_max: backoff_max ?? null,
  }));
}

/**
 * A time as the schedule's zone reads it, with the zone's offset:
 * `2026-03-08 03:00:00 -04:00` (what `schedule list` shows).
 */
export function formatInZone(ms: number, tz: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: tz,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
    timeZoneName: "longOffset",
  }).formatToParts(new Date(ms));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  const offset = part("timeZoneName").replace(/^GMT/, "") || "+00:00";
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")}:${
    part("second")
  } ${offset}`;
}

/** A schedule as `schedule list --json` / `show --json` and the API print it. */
export interface ScheduleView {
  name: string;
  cron: string;
  tz: string;
  catch_up: CatchUp;
  overlap: boolean;
  paused: boolean;
  job: ScheduleJob;
  next_run_at: string | null;
  /** The next run as the schedule's zone reads it. */
  next_run_local: string | null;
  last_run_at: string | null;
  last_run_local: string | null;
  last_job_id: string | null;
  skipped: number;
  missed: number;
  created_at: string;
}

/** Shapes a stored schedule for output: ISO times, and the same in the schedule's zone. */
export function scheduleView(schedule: Schedule): ScheduleView {
  const local = (ms: number | null) => (ms === null ? null : formatInZone(ms, schedule.tz));
  const iso = (ms: number | null) => (ms === null ? null : isoTime(ms));
  return {
    name: schedule.name,
    cron: schedule.cron,
    tz: schedule.tz,
    catch_up: schedule.catch_up,
    overlap: schedule.overlap,
    paused: schedule.paused,
    job: schedule.job,
    next_run_at: iso(schedule.next_run_at),
    next_run_local: local(schedule.next_run_at),
    last_run_at: iso(schedule.last_run_at),
    last_run_local: local(schedule.last_run_at),
    last_job_id: schedule.last_job_id,
    skipped: schedule.skipped,
    missed: schedule.missed,
    created_at: isoTime(schedule.created_at),
  };
}
