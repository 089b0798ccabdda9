/**
 * Schedules on SQLite: recurring jobs, and their firing, which advances a
 * schedule's due time and inserts its jobs in one write, so of every
 * process that read a due time one fires it. Each export is the `Storage`
 * method of its name (documented there).
 */
import type { SQLInputValue } from "node:sqlite";
import { scheduleNameTaken, scheduleNotFound } from "../../errors.ts";
import type { NewSchedule, Schedule } from "../../schedule.ts";
import { type Row, toSchedule } from "../_rows.ts";
import type { ScheduleFire, ScheduleFireResult } from "../storage.ts";
import { JOB_ROW_PARAMS, setJobRow } from "./_job_row.ts";
import { earliest, promise, type SqliteDb } from "./connection.ts";

/** A schedule's job (no dependencies), with its key; a taken id or an active key inserts nothing. */
const INSERT_SCHEDULED_JOB = `INSERT INTO jobs (id, command, state, queue, priority, max_retries,
  timeout, env, cwd, created_at, updated_at, next_run_at, retry_on, on_finish, unique_key)
  VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;

export function scheduleInsert(
  db: SqliteDb,
  params: { schedule: NewSchedule; now: number },
): Promise<Schedule> {
  const { schedule: s, now } = params;
  return promise(() =>
    db.write(() => {
      if (db.get("SELECT 1 AS x FROM schedules WHERE name = ?", s.name)) {
        throw scheduleNameTaken(s.name);
      }
      const row = db.get(
        `INSERT INTO schedules (name, cron, tz, catch_up, overlap, job, paused, next_run_at,
           created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        s.name,
        s.cron,
        s.tz,
        s.catch_up,
        s.overlap ? 1 : 0,
        JSON.stringify(s.job),
        s.paused ? 1 : 0,
        s.next_run_at,
        now,
      )!;
      return toSchedule(row);
    })
  );
}

export function scheduleGet(db: SqliteDb, params: { name: string }): Promise<Schedule | null> {
  return promise(() =>
    db.read(() => {
      const row = db.get("SELECT * FROM schedules WHERE name = ?", params.name);
      return row ? toSchedule(row) : null;
    })
  );
}

export function scheduleList(db: SqliteDb): Promise<Schedule[]> {
  return promise(() =>
    db.read(() => db.all("SELECT * FROM schedules ORDER BY name").map(toSchedule))
  );
}

export function scheduleDelete(db: SqliteDb, params: { name: string }): Promise<void> {
  return promise(() =>
    db.write(() => {
      if (db.run("DELETE FROM schedules WHERE name = ?", params.name) === 0) {
        throw scheduleNotFound(params.name);
      }
    })
  );
}

export function scheduleSetPaused(
  db: SqliteDb,
  params: { name: string; paused: boolean; nextRunAt?: number | null | undefined },
): Promise<Schedule> {
  return promise(() =>
    db.write(() => {
      const row = db.get(
        `UPDATE schedules SET paused = ?,
           next_run_at = CASE WHEN ? THEN ? ELSE next_run_at END
         WHERE name = ? RETURNING *`,
        params.paused ? 1 : 0,
        params.nextRunAt === undefined ? 0 : 1,
        params.nextRunAt ?? null,
        params.name,
      );
      if (!row) throw scheduleNotFound(params.name);
      return toSchedule(row);
    })
  );
}

export function scheduleFireMany(
  db: SqliteDb,
  params: { fires: ScheduleFire[]; now: number },
): Promise<ScheduleFireResult[]> {
  const { fires, now } = params;
  return promise(() => {
    // Quiet unless jobs were added: a time that only moved on (skipped, or
    // paused meanwhile) wakes no worker; other firers re-read on their own.
    const results = db.write(
      () => fires.map((fire) => fireOne(db, fire, now)),
      (fired) => fired.some((r) => r.inserted.length > 0) ? "jobs" : null,
    );
    return results;
  });
}

/** One schedule's fire inside the caller's write transaction. */
function fireOne(db: SqliteDb, fire: ScheduleFire, now: number): ScheduleFireResult {
  const { name, jobs } = fire;
  let row: Row | undefined;
  if (fire.expectedNextRunAt !== null) {
    // The guard: of every process that read this due time, one advances it.
    row = db.get(
      `UPDATE schedules SET next_run_at = ?, missed = missed + ?
       WHERE name = ? AND next_run_at = ? AND paused = 0
       RETURNING last_job_id`,
      fire.nextRunAt,
      fire.missed,
      name,
      fire.expectedNextRunAt,
    );
    if (!row) return { fired: false, inserted: [], skipped: [] };
  } else {
    row = db.get("SELECT last_job_id FROM schedules WHERE name = ?", name);
    if (!row) throw scheduleNotFound(name);
  }
  const inserted: string[] = [];
  const skipped: string[] = [];
  let lastJobId = row.last_job_id as string | null;
  let lastRunAt: number | null = null;
  // Without overlap each job carries the key schedule:<name>: while the
  // previous one is active the unique index over active keys refuses
  // the row, and DO NOTHING makes that a skip (an id already taken too).
  const insert = db.stmt(INSERT_SCHEDULED_JOB);
  const args: SQLInputValue[] = new Array(JOB_ROW_PARAMS + 1);
  for (const job of jobs) {
    setJobRow(args, 0, job, now)[JOB_ROW_PARAMS] = job.key;
    if (Number(insert.run(...args).changes) === 0) {
      skipped.push(job.id);
      continue;
    }
    inserted.push(job.id);
    lastJobId = job.id;
    lastRunAt = job.run_at;
  }
  if (inserted.length > 0) {
    db.run(
      "UPDATE job_counts SET n = n + ? WHERE state = 'pending'",
      inserted.length,
    );
  }
  const countSkips = fire.expectedNextRunAt !== null ? skipped.length : 0;
  if (inserted.length > 0 || countSkips > 0) {
    db.run(
      `UPDATE schedules SET skipped = skipped + ?,
         last_run_at = coalesce(?, last_run_at), last_job_id = ?
       WHERE name = ?`,
      countSkips,
      lastRunAt,
      lastJobId,
      name,
    );
  }
  return { fired: true, inserted, skipped };
}

export function scheduleNextDueAt(db: SqliteDb): Promise<number | null> {
  return earliest(
    db,
    "SELECT min(next_run_at) AS at FROM schedules INDEXED BY schedules_due WHERE paused = 0",
  );
}

export function scheduleListDue(
  db: SqliteDb,
  params: { now: number; limit: number },
): Promise<Schedule[]> {
  return promise(() =>
    db.read(() =>
      db.all(
        `SELECT * FROM schedules INDEXED BY schedules_due
         WHERE paused = 0 AND next_run_at <= ? ORDER BY next_run_at LIMIT ?`,
        params.now,
        params.limit,
      ).map(toSchedule)
    )
  );
}
