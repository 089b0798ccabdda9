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
import { EXPIRED_ERROR, type JobState, type NewJob, type OnConflict } from "../../job.ts";
import {
  cascadeError,
  checkAnyDependency,
  checkDependency,
  dependencyEdges,
  keyHeld,
  planKeyConflict,
  planWindowConflict,
  replacedError,
} from "../../job_flow.ts";
import type { InsertResult } from "../storage.ts";
import { JOB_ROW_PARAMS, setJobRow } from "./_job_row.ts";
import { earliest, promise, type SqliteDb } from "./connection.ts";
import { duplicateId, SQLITE_CONSTRAINT, sqliteCode } from "./errors.ts";

/** A job with dependencies or a key, inserted one by one: its state and open count too. */
const INSERT_FLOW_JOB = `INSERT INTO jobs (id, command, state, queue, priority, max_retries,
  timeout, env, cwd, created_at, updated_at, next_run_at, retry_on, on_finish, after_ids, unique_key,
  deps_open, grp, backoff_base, backoff_max, expires_at, after_any_ids, unique_for)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

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
  const insertDep = db.stmt(
    "INSERT OR IGNORE INTO job_deps (dep_id, job_id, any_outcome) VALUES (?, ?, ?)",
  );
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
      } else {
        // A final job may still hold the key by its unique_for window.
        const windowed = db.get(
          `SELECT id, created_at + CAST(unique_for * 1000 AS INTEGER) AS until
           FROM jobs INDEXED BY jobs_key
           WHERE unique_key = ? AND unique_for IS NOT NULL
             AND created_at + CAST(unique_for * 1000 AS INTEGER) > ?
           ORDER BY created_at DESC LIMIT 1`,
          job.key,
          now,
        );
        if (windowed) {
          planWindowConflict({
            jobId: job.id,
            key: job.key,
            holderId: windowed.id as string,
            until: windowed.until as number,
            onConflict,
          });
          result.kept.push({ id: job.id, key: job.key, existingId: windowed.id as string });
          continue;
        }
      }
    }
    const edges = dependencyEdges(job);
    let open = 0;
    for (const edge of edges) {
      const row = db.get("SELECT state FROM jobs WHERE id = ?", edge.id);
      const state = (row?.state as JobState | undefined) ?? null;
      const isOpen = edge.any
        ? checkAnyDependency(job.id, edge.id, state)
        : checkDependency(job.id, edge.id, state);
      if (isOpen) open++;
    }
    const args = setJobRow(new Array(JOB_ROW_PARAMS), 0, job, now);
    args.splice(2, 0, open > 0 ? "blocked" : "pending");
    try {
      insert.run(
        ...args,
        job.after === null ? null : JSON.stringify(job.after),
        job.key,
        open,
        job.group ?? null,
        job.backoff_base ?? null,
        job.backoff_max ?? null,
        job.expires_at ?? null,
        job.after_any == null ? null : JSON.stringify(job.after_any),
        job.unique_for ?? null,
      );
    } catch (error) {
      if (sqliteCode(error) === SQLITE_CONSTRAINT) throw duplicateId(job.id);
      throw error;
    }
    for (const edge of edges) insertDep.run(edge.id, job.id, edge.any ? 1 : 0);
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
  const completed = ended.filter((e) => e.state === "completed").map((e) => e.id);
  let unblocked = countDown(db, completed, false, now);
  unblocked += cascade(db, ended.filter((e) => e.state === "dead" || e.state === "cancelled"), now);
  return unblocked;
}

/**
 * One open dependency less for the blocked dependents of `ids` (those of
 * `after_any` edges only, with `anyOnly`), promoting those left with none
 * to `pending`; returns how many it promoted.
 */
function countDown(db: SqliteDb, ids: string[], anyOnly: boolean, now: number): number {
  if (ids.length === 0) return 0;
  const promoted = db.all(
    `UPDATE jobs SET deps_open = jobs.deps_open - d.n, updated_at = ?,
       state = CASE WHEN jobs.deps_open - d.n <= 0 THEN 'pending' ELSE 'blocked' END,
       next_run_at = CASE WHEN jobs.deps_open - d.n <= 0
         THEN max(jobs.next_run_at, ?) ELSE jobs.next_run_at END
     FROM (SELECT job_id, count(*) AS n FROM job_deps
           WHERE dep_id IN (SELECT value FROM json_each(?)) ${anyOnly ? "AND any_outcome = 1" : ""}
           GROUP BY job_id) AS d
     WHERE jobs.id = d.job_id AND jobs.state = 'blocked'
     RETURNING jobs.state`,
    now,
    now,
    JSON.stringify(ids),
  );
  return promoted.filter((row) => row.state === "pending").length;
}

/**
 * Cancels the blocked dependents of `ended` by `after` edges, and theirs,
 * round by round (see the header); every job of a round, the first one's
 * included, also counts down its `after_any` dependents (README "Flow
 * control"), which an end of any kind meets. Returns how many it promoted.
 */
function cascade(db: SqliteDb, ended: Ended[], now: number): number {
  let promoted = 0;
  let frontier = ended;
  while (frontier.length > 0) {
    promoted += countDown(db, frontier.map((e) => e.id), true, now);
    const next: typeof frontier = [];
    for (const dep of frontier) {
      const error = cascadeError(dep.id, dep.state, dep.error);
      for (
        const row of db.all(
          `UPDATE jobs SET state = 'cancelled', next_run_at = NULL, last_error = ?, updated_at = ?
           WHERE id IN (SELECT job_id FROM job_deps WHERE dep_id = ? AND any_outcome = 0)
             AND state = 'blocked'
           RETURNING id`,
          error,
          now,
          dep.id,
        )
      ) next.push({ id: row.id as string, state: "cancelled", error });
    }
    frontier = next;
  }
  return promoted;
}

/**
 * Cancels the jobs not started by their `expires_at` (README "Flow
 * control"), with their dependents as any cancel has; at most `limit`.
 * Returns the ids and how many dependents it promoted (`after_any`).
 */
export function expireDue(
  db: SqliteDb,
  now: number,
  limit = 500,
): { expired: string[]; promoted: number } {
  const rows = db.all(
    `UPDATE jobs SET state = 'cancelled', next_run_at = NULL, updated_at = ?, last_error = ?
     WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_expiring
       WHERE expires_at IS NOT NULL AND state IN ('pending', 'blocked', 'held')
         AND expires_at <= ? AND attempts = 0 LIMIT ?)
     RETURNING id`,
    now,
    EXPIRED_ERROR,
    now,
    limit,
  );
  const expired = rows.map((row) => row.id as string);
  const promoted = expired.length === 0 ? 0 : cascade(
    db,
    expired.map((id) => ({ id, state: "cancelled" as const, error: EXPIRED_ERROR })),
    now,
  );
  return { expired, promoted };
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

export function jobExpire(
  db: SqliteDb,
  params: { now: number; limit?: number | undefined },
): Promise<string[]> {
  return promise(() =>
    db.write(
      () => expireDue(db, params.now, params.limit),
      // Quiet unless a dependent became claimable; the ends file tells waiters.
      (result) => result.promoted > 0 ? "jobs" : result.expired.length > 0 ? "ends" : null,
    ).expired
  );
}

export function jobNextExpiryAt(db: SqliteDb): Promise<number | null> {
  return earliest(
    db,
    `SELECT min(expires_at) AS at FROM jobs INDEXED BY jobs_expiring
     WHERE expires_at IS NOT NULL AND state IN ('pending', 'blocked', 'held') AND attempts = 0`,
  );
}
