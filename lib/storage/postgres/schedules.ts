/**
 * Schedules on PostgreSQL: the rows of recurring jobs, and their fires,
 * each guarded so that of every process that read a due time one fires it.
 */
import { scheduleNameTaken, scheduleNotFound } from "../../errors.ts";
import type { NewSchedule, Schedule } from "../../schedule.ts";
import { type Row, toSchedule } from "../_rows.ts";
import type { ScheduleFire, ScheduleFireResult } from "../storage.ts";
import { begin, call, earliest, notify, type PgDb, q, type Sql } from "./connection.ts";

const INSERT = `INSERT INTO schedules (name, cron, tz, catch_up, overlap, job, paused, next_run_at,
    created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  ON CONFLICT (name) DO NOTHING RETURNING *`;

/** Adds a schedule; a name taken is ConflictError. Wakes the firers. */
export function scheduleInsert(
  pg: PgDb,
  params: { schedule: NewSchedule; now: number },
): Promise<Schedule> {
  const { schedule: s, now } = params;
  return call(pg, () =>
    begin(pg, async (tx) => {
      const [row] = await q(tx, INSERT, [
        s.name,
        s.cron,
        s.tz,
        s.catch_up,
        s.overlap,
        JSON.stringify(s.job),
        s.paused,
        s.next_run_at,
        now,
      ]);
      if (!row) throw scheduleNameTaken(s.name);
      // Sleeping firers re-read their timer.
      await notify(pg, tx);
      return toSchedule(row);
    }));
}

/** One schedule by name, or `null`. */
export function scheduleGet(pg: PgDb, params: { name: string }): Promise<Schedule | null> {
  return call(pg, async () => {
    const [row] = await q(pg.sql, "SELECT * FROM schedules WHERE name = $1", [params.name]);
    return row ? toSchedule(row) : null;
  });
}

/** Every schedule, by name. */
export function scheduleList(pg: PgDb): Promise<Schedule[]> {
  return call(
    pg,
    async () => (await q(pg.sql, "SELECT * FROM schedules ORDER BY name")).map(toSchedule),
  );
}

/** Deletes a schedule; a missing one is NotFoundError. */
export function scheduleDelete(pg: PgDb, params: { name: string }): Promise<void> {
  return call(pg, async () => {
    const rows = await q(pg.sql, "DELETE FROM schedules WHERE name = $1 RETURNING name", [
      params.name,
    ]);
    if (rows.length === 0) throw scheduleNotFound(params.name);
  });
}

const SET_PAUSED = `UPDATE schedules SET paused = $1,
    next_run_at = CASE WHEN $2 THEN $3::bigint ELSE next_run_at END
  WHERE name = $4 RETURNING *`;

/** Pauses or resumes a schedule (with a new due time if given); wakes the firers. */
export function scheduleSetPaused(
  pg: PgDb,
  params: { name: string; paused: boolean; nextRunAt?: number | null | undefined },
): Promise<Schedule> {
  return call(pg, () =>
    begin(pg, async (tx) => {
      const [row] = await q(tx, SET_PAUSED, [
        params.paused,
        params.nextRunAt !== undefined,
        params.nextRunAt ?? null,
        params.name,
      ]);
      if (!row) throw scheduleNotFound(params.name);
      await notify(pg, tx);
      return toSchedule(row);
    }));
}

/** Fires schedules in one transaction, each guarded on its due time still being the one read. */
export function scheduleFireMany(
  pg: PgDb,
  params: { fires: ScheduleFire[]; now: number },
): Promise<ScheduleFireResult[]> {
  const { fires, now } = params;
  if (fires.length === 0) return Promise.resolve([]);
  return call(pg, () =>
    begin(pg, async (tx) => {
      // Rows are locked in name order: firers of overlapping sets never deadlock.
      const order = fires.map((_, i) => i).sort((a, b) =>
        fires[a]!.name < fires[b]!.name ? -1 : fires[a]!.name > fires[b]!.name ? 1 : 0
      );
      const results: ScheduleFireResult[] = new Array(fires.length);
      for (const i of order) results[i] = await fireOne(tx, fires[i]!, now);
      // Wakes idle workers for the new jobs (a time that only moved on wakes nobody).
      if (results.some((r) => r.inserted.length > 0)) await notify(pg, tx);
      return results;
    }));
}

const ADVANCE = `UPDATE schedules SET next_run_at = $1, missed = missed + $2
  WHERE name = $3 AND next_run_at = $4 AND NOT paused
  RETURNING last_job_id`;

const LOCK_SCHEDULE = "SELECT last_job_id FROM schedules WHERE name = $1 FOR UPDATE";

const INSERT_JOB = `INSERT INTO jobs (id, command, state, queue, priority, max_retries, timeout,
    env, cwd, created_at, updated_at, next_run_at, retry_on, unique_key, on_finish)
  VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13)
  ON CONFLICT DO NOTHING RETURNING id`;

const COUNT_PENDING = "INSERT INTO job_count_deltas (state, n) VALUES ('pending', $1)";

const RECORD_FIRE = `UPDATE schedules SET skipped = skipped + $1,
    last_run_at = coalesce($2::bigint, last_run_at), last_job_id = $3
  WHERE name = $4`;

/** One schedule's fire inside the caller's transaction `tx`. */
async function fireOne(tx: Sql, fire: ScheduleFire, now: number): Promise<ScheduleFireResult> {
  const { name, jobs } = fire;
  let row: Row | undefined;
  if (fire.expectedNextRunAt !== null) {
    // The guard: of every process that read this due time, one advances
    // it; the others wait for its row lock, then find it moved on.
    [row] = await q(tx, ADVANCE, [fire.nextRunAt, fire.missed, name, fire.expectedNextRunAt]);
    if (!row) return { fired: false, inserted: [], skipped: [] };
  } else {
    [row] = await q(tx, LOCK_SCHEDULE, [name]);
    if (!row) throw scheduleNotFound(name);
  }
  const inserted: string[] = [];
  const skipped: string[] = [];
  let lastJobId = row.last_job_id as string | null;
  let lastRunAt: number | null = null;
  for (const job of jobs) {
    // Without overlap each job carries the key schedule:<name>: while the
    // previous one is active the unique index over active keys refuses
    // the row, and DO NOTHING makes that a skip (an id already taken too).
    const added = await q(tx, INSERT_JOB, [
      job.id,
      job.command,
      job.queue,
      job.priority,
      job.max_retries,
      job.timeout,
      job.env === null ? null : JSON.stringify(job.env),
      job.cwd,
      now,
      job.run_at,
      job.retry_on === null ? null : JSON.stringify(job.retry_on),
      job.key,
      job.on_finish ?? null,
    ]);
    if (added.length === 0) {
      skipped.push(job.id);
      continue;
    }
    inserted.push(job.id);
    lastJobId = job.id;
    lastRunAt = job.run_at;
  }
  if (inserted.length > 0) await q(tx, COUNT_PENDING, [inserted.length]);
  const countSkips = fire.expectedNextRunAt !== null ? skipped.length : 0;
  if (inserted.length > 0 || countSkips > 0) {
    await q(tx, RECORD_FIRE, [countSkips, lastRunAt, lastJobId, name]);
  }
  return { fired: true, inserted, skipped };
}

/** When the next unpaused schedule is due, or `null`. */
export function scheduleNextDueAt(pg: PgDb): Promise<number | null> {
  return earliest(pg, "SELECT min(next_run_at) AS at FROM schedules WHERE NOT paused");
}

const LIST_DUE = `SELECT * FROM schedules WHERE NOT paused AND next_run_at <= $1
  ORDER BY next_run_at LIMIT $2`;

/** Unpaused schedules due by `now`, earliest first. */
export function scheduleListDue(
  pg: PgDb,
  params: { now: number; limit: number },
): Promise<Schedule[]> {
  return call(
    pg,
    async () => (await q(pg.sql, LIST_DUE, [params.now, params.limit])).map(toSchedule),
  );
}
