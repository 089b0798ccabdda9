/**
 * What the CLI and the dashboard both do to a schedule beyond one storage
 * call: resume it from now, run its job now.
 */
import { ConflictError, scheduleNotFound } from "./errors.ts";
import { insertedJobs, type Job } from "./job.ts";
import { nextDueAfter, type Schedule, scheduleJobs, scheduleKey } from "./schedule.ts";
import type { Storage } from "./storage/storage.ts";

/**
 * Enqueues one job of schedule `name` now, id `<name>@<now ISO>`, leaving
 * its next due time alone. Without `overlap`, an active job holding its key
 * `schedule:<name>` is a ConflictError (exit 1); an unknown name a NotFoundError.
 */
export async function runScheduleNow(store: Storage, name: string): Promise<Job> {
  const schedule = await store.scheduleGet({ name });
  if (!schedule) throw scheduleNotFound(name);
  const now = store.now();
  const jobs = scheduleJobs(schedule, [now]);
  const [result] = await store.scheduleFireMany({
    fires: [{ name, expectedNextRunAt: null, nextRunAt: null, jobs, missed: 0 }],
    now,
  });
  if (result!.inserted.length === 0) {
    throw new ConflictError(
      `Cannot run schedule "${name}" now: a job with its key "${
        scheduleKey(name)
      }" is still active (its last job is "${schedule.last_job_id}")`,
      "wait for it to finish, or add the schedule with --overlap",
    );
  }
  return insertedJobs(jobs, now)[0]!;
}

/**
 * Resumes schedule `name` from its next due time after now: the times that
 * passed while it was paused are not caught up (pausing means "not these").
 * An unknown name is a NotFoundError.
 */
export async function resumeSchedule(store: Storage, name: string): Promise<Schedule> {
  const current = await store.scheduleGet({ name });
  if (!current) throw scheduleNotFound(name);
  return await store.scheduleSetPaused({
    name,
    paused: false,
    nextRunAt: nextDueAfter(current.cron, current.tz, store.now()),
  });
}
