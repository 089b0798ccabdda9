/**
 * Job flow on SQLite: dependencies (`after`, the `blocked` state) and unique
 * keys. The rules themselves are pure functions in `lib/job_flow.ts`; this
 * module applies them inside the caller's write transaction (DESIGN.md,
 * "Job flow storage").
 *
 * How dependents move on. A job's dependencies are rows of `job_deps
 * (dep_id, job_id)`, keyed by the dependency first, and a blocked job keeps
 * `deps_open`, how many of its dependencies have not completed. The jobs a
 * write finishes (`runs.ts`) go to {@linkcode settleDependents} all at once:
 *
 * - the `completed` ones decrement `deps_open` of their blocked dependents
 *   in one statement (a dependent counted once per completed dependency);
 *   a dependent that reaches 0 becomes `pending`, due at
 *   `max(next_run_at, now)` so a long-blocked job does not jump the queue;
 * - the `dead` and `cancelled` ones go to {@linkcode cascade}, which
 *   cancels their blocked dependents, breadth first: each round cancels
 *   the blocked dependents of the jobs the round before cancelled, with a
 *   `last_error` that names the direct dependency and the root cause, until
 *   a round cancels nothing. A job cancelled by `cancel` or replaced by
 *   its key ({@linkcode cancel}) starts a cascade of its own.
 *
 * Only blocked jobs are touched: a dependent is blocked while any of its
 * dependencies is open, so nothing else can be below one. Every step is an
 * index probe on `job_deps`; nothing scans the blocked jobs. It all runs in
 * the same `BEGIN IMMEDIATE` write as the finish, so no claimer ever sees a
 * completed dependency beside a dependent still blocked.
 */
import type { JobState, NewJob, OnConflict } from "../../job.ts";
import {
  cascadeError,
  checkDependency,
  distinctIds,
  keyHeld,
  planKeyConflict,
  replacedError,
} from "../../job_flow.ts";
import type { InsertResult } from "../storage.ts";
import { JOB_ROW_PARAMS, setJobRow } from "./_job_row.ts";
import type { SqliteDb } from "./connection.ts";
import { duplicateId, SQLITE_CONSTRAINT, sqliteCode } from "./errors.ts";

/** A job with dependencies or a key, inserted one by one: its state and open count too. */
const INSERT_FLOW_JOB = `INSERT INTO jobs (id, command, state, queue, priority, max_retries,
  timeout, env, cwd, created_at, updated_at, next_run_at, retry_on, after_ids, unique_key, deps_open)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The active states as SQL, for the partial index on keys (the planner needs it literally). */
export const ACTIVE = "('pending', 'blocked', 'processing', 'failed', 'held')";

/** A job that ended, as the cascade passes it on: its state and why. */
export type Ended = { id: string; state: JobState; error: string | null };

/**
 * Inserts jobs with dependencies or keys one by one, applying the rules of
 * README.md's "Job flow" (`on_conflict` for keys; dependencies that exist).
 */
export function insertFlow(
  db: SqliteDb,
  jobs: NewJob[],
  now: number,
  onConflict: OnConflict,
): InsertResult {
  const result: InsertResult = { inserted: 0, kept: [], blocked: [], replaced: [] };
  const insert = db.stmt(INSERT_FLOW_JOB);
  const insertDep = db.stmt("INSERT OR IGNORE INTO job_deps (dep_id, job_id) VALUES (?, ?)");
  let pending = 0;
  for (const job of jobs) {
    if (job.key !== null) {
      const holder = db.get(
        `SELECT id, state FROM jobs INDEXED BY jobs_key_active
         WHERE unique_key = ? AND state IN ${ACTIVE}`,
        job.key,
      );
      if (holder) {
        const plan = planKeyConflict({
          jobId: job.id,
          key: job.key,
          holderId: holder.id as string,
          holderState: holder.state as JobState,
          onConflict,
        });
        if (plan === "keep") {
          result.kept.push({ id: job.id, key: job.key, existingId: holder.id as string });
          continue;
        }
        cancel(db, holder.id as string, now, replacedError(job.id));
        result.replaced.push(holder.id as string);
      }
    }
    const after = job.after === null ? [] : distinctIds(job.after);
    let open = 0;
    for (const dep of after) {
      const row = db.get("SELECT state FROM jobs WHERE id = ?", dep);
      if (checkDependency(job.id, dep, (row?.state as JobState | undefined) ?? null)) open++;
    }
    const args = setJobRow(new Array(JOB_ROW_PARAMS), 0, job, now);
    args.splice(2, 0, open > 0 ? "blocked" : "pending");
    try {
      insert.run(
        ...args,
        job.after === null ? null : JSON.stringify(job.after),
        job.key,
        open,
      );
    } catch (error) {
      if (sqliteCode(error) === SQLITE_CONSTRAINT) throw duplicateId(job.id);
      throw error;
    }
    for (const dep of after) insertDep.run(dep, job.id);
    if (open > 0) result.blocked.push(job.id);
    else pending++;
  }
  db.run("UPDATE job_counts SET n = n + ? WHERE state = 'pending'", pending);
  db.run("UPDATE job_counts SET n = n + ? WHERE state = 'blocked'", result.blocked.length);
  result.inserted = pending + result.blocked.length;
  return result;
}

/**
 * Cancels one job that is not running (optionally saying why) and,
 * in turn, its blocked dependents.
 */
export function cancel(db: SqliteDb, id: string, now: number, error: string | null): void {
  const row = db.get(
    `UPDATE jobs SET state = 'cancelled', next_run_at = NULL, updated_at = ?,
       last_error = coalesce(?, last_error)
     WHERE id = ? AND state IN ('pending', 'blocked', 'failed', 'held') RETURNING last_error`,
    now,
    error,
    id,
  );
  if (row) {
    cascade(db, [{ id, state: "cancelled", error: row.last_error as string | null }], now);
  }
}

/**
 * Moves dependents on after their dependencies ended: `completed` ones
 * unblock the dependents whose last open dependency they were; `dead`
 * and `cancelled` ones cancel their blocked dependents, and theirs in
 * turn. Index probes on `job_deps` only: no scan of the blocked jobs.
 * Returns how many dependents it unblocked.
 */
export function settleDependents(db: SqliteDb, ended: Ended[], now: number): number {
  let unblocked = 0;
  const completed = ended.filter((e) => e.state === "completed").map((e) => e.id);
  if (completed.length > 0) {
    unblocked = db.run(
      `UPDATE jobs SET deps_open = jobs.deps_open - d.n, updated_at = ?,
         state = CASE WHEN jobs.deps_open - d.n <= 0 THEN 'pending' ELSE 'blocked' END,
         next_run_at = CASE WHEN jobs.deps_open - d.n <= 0
           THEN max(jobs.next_run_at, ?) ELSE jobs.next_run_at END
       FROM (SELECT job_id, count(*) AS n FROM job_deps
             WHERE dep_id IN (SELECT value FROM json_each(?)) GROUP BY job_id) AS d
       WHERE jobs.id = d.job_id AND jobs.state = 'blocked'`,
      now,
      now,
      JSON.stringify(completed),
    );
  }
  cascade(db, ended.filter((e) => e.state === "dead" || e.state === "cancelled"), now);
  return unblocked;
}

/** Cancels the blocked dependents of `ended`, and theirs, round by round (see the header). */
function cascade(db: SqliteDb, ended: Ended[], now: number): void {
  let frontier = ended;
  while (frontier.length > 0) {
    const next: typeof frontier = [];
    for (const dep of frontier) {
      const error = cascadeError(dep.id, dep.state, dep.error);
      for (
        const row of db.all(
          `UPDATE jobs SET state = 'cancelled', next_run_at = NULL, last_error = ?, updated_at = ?
           WHERE id IN (SELECT job_id FROM job_deps WHERE dep_id = ?) AND state = 'blocked'
           RETURNING id`,
          error,
          now,
          dep.id,
        )
      ) next.push({ id: row.id as string, state: "cancelled", error });
    }
    frontier = next;
  }
}

/** Refuses to make job `id` active while another active job holds its key. */
export function requireKeyFree(db: SqliteDb, id: string, key: string): void {
  const holder = db.get(
    `SELECT id FROM jobs INDEXED BY jobs_key_active
     WHERE unique_key = ? AND state IN ${ACTIVE} AND id <> ?`,
    key,
    id,
  );
  if (holder) throw keyHeld(id, key, holder.id as string);
}
