/**
 * Jobs on SQLite: the plain insert, reads and lists, counts, and the
 * commands that change jobs by id (retry, cancel, delete, prune). Inserts
 * with dependencies or keys, and the key checks, are in `flow.ts`. Each
 * export is the `Storage` method of its name (documented there).
 */
import type { SQLInputValue } from "node:sqlite";
import { jobNotFound } from "../../errors.ts";
import {
  hasFlowControl,
  type Job,
  JOB_STATES,
  type JobState,
  type JobWithRuns,
  type NewJob,
  type OnConflict,
} from "../../job.ts";
import { checkRetryDependency, distinctIds } from "../../job_flow.ts";
import { planCancel, planRetry, runNowRefused } from "../../state.ts";
import { decodeCursor, encodeCursor, type Row, toJob, toRun } from "../_rows.ts";
import {
  type InsertResult,
  type JobListParams,
  type JobPage,
  PRUNABLE_STATES,
  type PruneCounts,
  type PruneParams,
} from "../storage.ts";
import { JOB_ROW_PARAMS, setJobRow } from "./_job_row.ts";
import { promise, type SqliteDb } from "./connection.ts";
import { duplicateId, SQLITE_CONSTRAINT, sqliteCode } from "./errors.ts";
import { addTagsFilter, insertExtras } from "./_operator_fields.ts";
import { ACTIVE, cancel, insertFlow, requireKeyFree } from "./flow.ts";

const INSERT_JOBS = `INSERT INTO jobs (id, command, state, queue, priority, max_retries, timeout,
  env, cwd, created_at, updated_at, next_run_at, retry_on, on_finish) VALUES `;
const JOB_ROW = "(?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/** Rows per multi-row INSERT of a batch: 6,500 parameters, under SQLite's limit of 32,766. */
const INSERT_CHUNK_ROWS = 500;
const INSERT_JOB = INSERT_JOBS + JOB_ROW;
const INSERT_JOB_CHUNK = INSERT_JOBS + Array(INSERT_CHUNK_ROWS).fill(JOB_ROW).join(", ");

export function jobInsertMany(
  db: SqliteDb,
  params: { jobs: NewJob[]; now: number; onConflict?: OnConflict | undefined },
): Promise<InsertResult> {
  const { jobs, now } = params;
  return promise(() =>
    db.write(() => {
      if (jobs.some((job) => job.after !== null || job.key !== null || hasFlowControl(job))) {
        const result = insertFlow(db, jobs, now, params.onConflict ?? "keep");
        insertExtras(db, jobs, result);
        return result;
      }
      // Each call into node:sqlite costs more than the row it inserts, so
      // full chunks go in as one multi-row INSERT each (prepared only for
      // a batch that has one: a single job need not pay for it).
      const args: SQLInputValue[] = [];
      let i = 0;
      for (; i + INSERT_CHUNK_ROWS <= jobs.length; i += INSERT_CHUNK_ROWS) {
        for (let k = 0; k < INSERT_CHUNK_ROWS; k++) {
          setJobRow(args, k * JOB_ROW_PARAMS, jobs[i + k]!, now);
        }
        try {
          db.stmt(INSERT_JOB_CHUNK).run(...args);
        } catch (error) {
          // The failed statement inserted nothing; row by row names the id.
          if (sqliteCode(error) === SQLITE_CONSTRAINT) break;
          throw error;
        }
      }
      const insert = db.stmt(INSERT_JOB);
      const row: SQLInputValue[] = new Array(JOB_ROW_PARAMS);
      for (; i < jobs.length; i++) {
        const job = jobs[i]!;
        try {
          insert.run(...setJobRow(row, 0, job, now));
        } catch (error) {
          if (sqliteCode(error) === SQLITE_CONSTRAINT) throw duplicateId(job.id);
          throw error;
        }
      }
      db.run("UPDATE job_counts SET n = n + ? WHERE state = 'pending'", jobs.length);
      const result = { inserted: jobs.length, kept: [], blocked: [], replaced: [] };
      insertExtras(db, jobs, result);
      return result;
    })
  );
}

export function jobGet(db: SqliteDb, params: { id: string }): Promise<Job | null> {
  return promise(() =>
    db.read(() => {
      const row = db.get("SELECT * FROM jobs WHERE id = ?", params.id);
      return row ? toJob(row) : null;
    })
  );
}

export function jobGetWithRuns(db: SqliteDb, params: { id: string }): Promise<JobWithRuns | null> {
  return promise(() =>
    db.read(() => {
      const row = db.get("SELECT * FROM jobs WHERE id = ?", params.id);
      if (!row) return null;
      const runs = db.all(
        `SELECT attempt, started_at, finished_at, outcome, exit_code, signal, error, worker_id,
         hook FROM runs WHERE job_id = ? ORDER BY seq`,
        params.id,
      ).map(toRun);
      const job = toJob(row);
      const states = new Map<string, JobState>();
      const named = distinctIds([...(job.after ?? []), ...(job.after_any ?? [])]);
      if (named.length > 0) {
        for (
          const dep of db.all(
            "SELECT id, state FROM jobs WHERE id IN (SELECT value FROM json_each(?))",
            JSON.stringify(named),
          )
        ) states.set(dep.id as string, dep.state as JobState);
      }
      const dependencies = named.map((id) => ({
        id,
        state: states.get(id) ?? null,
      }));
      const dependents = db.all(
        `SELECT j.id, j.state FROM job_deps d JOIN jobs j ON j.id = d.job_id
         WHERE d.dep_id = ? ORDER BY j.created_at, j.seq`,
        params.id,
      ).map((dep) => ({ id: dep.id as string, state: dep.state as JobState }));
      return { ...job, runs, dependencies, dependents };
    })
  );
}

export function jobGetMany(db: SqliteDb, params: { ids: string[] }): Promise<Job[]> {
  return promise(() =>
    db.read(() =>
      db.all(
        "SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(?))",
        JSON.stringify(params.ids),
      ).map(toJob)
    )
  );
}

export function jobList(db: SqliteDb, params: JobListParams): Promise<JobPage> {
  return promise(() =>
    db.read(() => {
      const where: string[] = [];
      const args: SQLInputValue[] = [];
      const delayed = params.dueAfter !== undefined;
      if (delayed) {
        where.push("state = 'pending' AND next_run_at > ?");
        args.push(params.dueAfter!);
      } else if (params.state) {
        where.push("state = ?");
        args.push(params.state);
      }
      if (params.queue) {
        where.push("queue = ?");
        args.push(params.queue);
      }
      if (params.search) {
        const like = `%${params.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        where.push("(id LIKE ? ESCAPE '\\' OR command LIKE ? ESCAPE '\\')");
        args.push(like, like);
      }
      if (params.tags?.length) addTagsFilter(where, args, params.tags);
      if (params.createdBefore !== undefined) {
        where.push("created_at < ?");
        args.push(params.createdBefore);
      }
      // Delayed jobs page by due time, soonest first; the rest newest first.
      const [at, order] = delayed
        ? ["next_run_at", "ORDER BY next_run_at, seq"]
        : ["created_at", "ORDER BY created_at DESC, seq DESC"];
      if (params.cursor) {
        const cursor = decodeCursor(params.cursor);
        if (cursor) {
          const before = delayed ? ">" : "<";
          where.push(`(${at} ${before} ? OR (${at} = ? AND seq ${before} ?))`);
          args.push(cursor.createdAt, cursor.createdAt, cursor.seq);
        }
      }
      const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ${order} LIMIT ?`;
      const rows = db.all(sql, ...args, params.limit + 1);
      const page = rows.slice(0, params.limit);
      const last = page[page.length - 1];
      return {
        jobs: page.map(toJob),
        nextCursor: rows.length > params.limit && last
          ? encodeCursor(last[at] as number, last.seq as number)
          : null,
      };
    })
  );
}

export function jobCountByState(db: SqliteDb): Promise<Record<JobState, number>> {
  return promise(() => db.read(() => counts(db)));
}

function counts(db: SqliteDb): Record<JobState, number> {
  const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
  for (const row of db.all("SELECT state, n FROM job_counts")) {
    counts[row.state as JobState] = row.n as number;
  }
  return counts;
}

function requireJob(db: SqliteDb, id: string): Row {
  const row = db.get("SELECT * FROM jobs WHERE id = ?", id);
  if (!row) throw jobNotFound(id);
  return row;
}

export function jobRetry(
  db: SqliteDb,
  params: { ids: string[]; now: number; dlqOnly?: boolean | undefined },
): Promise<Job[]> {
  return promise(() =>
    db.write(() => {
      // A dependency retried in the same call counts as open, whatever the order.
      const retried = new Set(params.ids);
      for (const id of params.ids) {
        retryRow(db, requireJob(db, id), params.now, retried, params.dlqOnly);
      }
      return params.ids.map((id) => toJob(requireJob(db, id)));
    })
  );
}

/**
 * Retries one job inside the caller's write (see `Storage.jobRetry`);
 * throws a ConflictError, having changed nothing, when it may not run
 * again. `retried`: ids retried in the same call (their dependents count
 * them as open). Also the step of a retry by filter (`controls.ts`).
 */
export function retryRow(
  db: SqliteDb,
  row: Row,
  now: number,
  retried: ReadonlySet<string>,
  dlqOnly?: boolean | undefined,
): void {
  const id = row.id as string;
  const plan = planRetry(id, row.state as JobState, { dlqOnly });
  if (row.unique_key !== null) requireKeyFree(db, id, row.unique_key as string);
  // A cancelled job may wait for dependencies again: count the open ones.
  let open = 0;
  if (row.state === "cancelled") {
    for (
      const dep of db.all(
        `SELECT d.dep_id, d.any_outcome, j.state FROM job_deps d
         LEFT JOIN jobs j ON j.id = d.dep_id WHERE d.job_id = ?`,
        id,
      )
    ) {
      // A pruned dependency was final; a dead or cancelled one is refused
      // (met, for after_any).
      if (dep.state === null || dep.state === "completed") continue;
      if (dep.any_outcome && (dep.state === "dead" || dep.state === "cancelled")) continue;
      if (!retried.has(dep.dep_id as string)) {
        checkRetryDependency(id, dep.dep_id as string, dep.state as JobState);
      }
      open++;
    }
  }
  db.run(
    `UPDATE jobs SET state = ?, next_run_at = ?, updated_at = ?, deps_open = ?,
       attempts = CASE WHEN ? THEN 0 ELSE attempts END
     WHERE id = ?`,
    open > 0 ? "blocked" : plan.state,
    now,
    now,
    open,
    plan.resetAttempts ? 1 : 0,
    id,
  );
}

export function jobRetryAllDead(db: SqliteDb, params: { now: number }): Promise<number> {
  return promise(() =>
    db.write(() =>
      // A dead job whose key another job holds (an active one, or a newer
      // dead one retried here too) stays dead: a key has one active job.
      db.run(
        `UPDATE jobs SET state = 'pending', attempts = 0, next_run_at = ?, updated_at = ?
       WHERE state = 'dead' AND (unique_key IS NULL OR NOT EXISTS (
         SELECT 1 FROM jobs o INDEXED BY jobs_key WHERE o.unique_key = jobs.unique_key
           AND o.id <> jobs.id
           AND (o.state IN ${ACTIVE} OR (o.state = 'dead' AND o.seq > jobs.seq))))`,
        params.now,
        params.now,
      )
    )
  );
}

export function jobCancel(db: SqliteDb, params: { ids: string[]; now: number }): Promise<Job[]> {
  return promise(() =>
    db.write(() => {
      // Plans from the states before the call: cancelling a dependency
      // may cancel a later id by cascade, which is then already done.
      const plans = params.ids.map((id) => planCancel(id, requireJob(db, id).state as JobState));
      for (const [i, id] of params.ids.entries()) {
        if (plans[i] === "cancel") {
          cancel(db, id, params.now, null);
        } else {
          db.run(
            "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?",
            params.now,
            id,
          );
        }
      }
      return params.ids.map((id) => toJob(requireJob(db, id)));
    })
  );
}

export function jobRunNow(db: SqliteDb, params: { id: string; now: number }): Promise<Job> {
  return promise(() =>
    db.write(() => {
      const row = db.get(
        `UPDATE jobs SET updated_at = ?,
           next_run_at = CASE WHEN next_run_at > ? THEN ? ELSE next_run_at END
         WHERE id = ? AND state = 'pending' RETURNING *`,
        params.now,
        params.now,
        params.now,
        params.id,
      );
      if (row) return toJob(row);
      // Not pending (the guard of the UPDATE): name its state, or that it is missing.
      throw runNowRefused(params.id, requireJob(db, params.id).state as JobState);
    })
  );
}

export function jobDeleteDead(
  db: SqliteDb,
  params: { olderThan?: number | undefined },
): Promise<number> {
  return promise(() =>
    db.write(() => {
      const cutoff = params.olderThan ?? Number.MAX_SAFE_INTEGER;
      db.run(
        `DELETE FROM runs WHERE job_id IN
         (SELECT id FROM jobs WHERE state = 'dead' AND updated_at < ?)`,
        cutoff,
      );
      // Their own dependency edges; a dependent's edge to one stays (shown as pruned).
      db.run(
        `DELETE FROM job_deps WHERE job_id IN
         (SELECT id FROM jobs WHERE state = 'dead' AND updated_at < ?)`,
        cutoff,
      );
      return db.run("DELETE FROM jobs WHERE state = 'dead' AND updated_at < ?", cutoff);
    })
  );
}

/**
 * A final job still holding its key by its `unique_for` window is not
 * pruned (README "Flow control"): deleting it would free the key early.
 */
const WINDOW_CLOSED =
  "AND (unique_for IS NULL OR created_at + CAST(unique_for * 1000 AS INTEGER) <= ?)";

export function jobPrune(db: SqliteDb, params: PruneParams): Promise<PruneCounts> {
  return promise(() => {
    const counts: PruneCounts = { completed: 0, cancelled: 0, dead: 0 };
    const now = params.now ?? db.now();
    const states = PRUNABLE_STATES.filter((state) => typeof params.before[state] === "number");
    if (params.dryRun) {
      return db.read(() => {
        for (const state of states) {
          counts[state] = db.get(
            `SELECT count(*) AS n FROM jobs INDEXED BY jobs_state_created
             WHERE state = ? AND updated_at < ? ${WINDOW_CLOSED}`,
            state,
            params.before[state]!,
            now,
          )!.n as number;
        }
        return counts;
      });
    }
    return db.write(() => {
      let room = params.limit ?? Number.MAX_SAFE_INTEGER;
      for (const state of states) {
        if (room <= 0) break;
        const rows = db.all(
          `SELECT seq, id FROM jobs INDEXED BY jobs_state_created
           WHERE state = ? AND updated_at < ? ${WINDOW_CLOSED} LIMIT ?`,
          state,
          params.before[state]!,
          now,
          room,
        );
        if (rows.length === 0) continue;
        const ids = JSON.stringify(rows.map((r) => r.id));
        db.run("DELETE FROM runs WHERE job_id IN (SELECT value FROM json_each(?))", ids);
        // Its own dependency edges; a dependent's edge to it stays (shown as pruned).
        db.run("DELETE FROM job_deps WHERE job_id IN (SELECT value FROM json_each(?))", ids);
        counts[state] = db.run(
          "DELETE FROM jobs WHERE seq IN (SELECT value FROM json_each(?)) AND state = ?",
          JSON.stringify(rows.map((r) => r.seq)),
          state,
        );
        room -= rows.length;
      }
      return counts;
    }, null);
  });
}
