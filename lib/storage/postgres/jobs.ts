/**
 * Jobs on PostgreSQL: the bulk insert, reads, counts, and the commands
 * that change jobs by id (retry, cancel) or in bulk (delete dead, prune).
 * Inserts with dependencies or keys that need rules go through `flow.ts`.
 */
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
import { distinctIds, keyHeld } from "../../job_flow.ts";
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
import { begin, call, notify, type PgDb, q, type Sql } from "./connection.ts";
import { duplicateId, duplicateIdError } from "./errors.ts";
import { insertExtras, tagsFilter } from "./_operator_fields.ts";
import { ACTIVE, insertFlow, keptByKey, openDependencies } from "./flow.ts";

/** The columns of a job as every job read returns them. */
export const JOB_COLUMNS =
  `seq, id, command, state, queue, priority, max_retries, timeout, env, cwd,
  attempts, created_at, updated_at, next_run_at, last_error, worker_id, after_ids, unique_key,
  retry_on, grp, backoff_base, backoff_max, expires_at, after_any_ids, unique_for, tags, on_finish,
  progress, progress_message, progress_attempt`;

/** Rows per INSERT of a batch: big enough to be fast, small enough for one message. */
const INSERT_CHUNK_ROWS = 5_000;

const INSERT_CHUNK = `INSERT INTO jobs (id, command, state, queue, priority, max_retries, timeout,
    env, cwd, created_at, updated_at, next_run_at, retry_on, unique_key, on_finish)
  SELECT id, command, 'pending', queue, priority, max_retries, timeout,
    env, cwd, $10, $10, run_at, retry_on, unique_key, on_finish
  FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[],
    $6::float8[], $7::text[], $8::text[], $9::int8[], $11::text[], $12::text[], $13::text[])
    WITH ORDINALITY AS t(id, command, queue, priority, max_retries, timeout,
      env, cwd, run_at, retry_on, unique_key, on_finish, n)
  ORDER BY n`;

const INSERT_CHUNK_KEYED = `${INSERT_CHUNK}
  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ${ACTIVE}
  DO NOTHING RETURNING id`;

const WINDOW_HELD = `SELECT 1 FROM jobs WHERE unique_key = ANY($1::text[])
  AND unique_for IS NOT NULL AND created_at + (unique_for * 1000)::bigint > $2::bigint LIMIT 1`;

const COUNT_PENDING = "INSERT INTO job_count_deltas (state, n) VALUES ('pending', $1)";

/** Inserts a batch in one transaction: all or nothing (keys and dependencies by their rules). */
export function jobInsertMany(
  pg: PgDb,
  params: { jobs: NewJob[]; now: number; onConflict?: OnConflict | undefined },
): Promise<InsertResult> {
  const { jobs, now } = params;
  if (jobs.length === 0) {
    return Promise.resolve({ inserted: 0, kept: [], blocked: [], replaced: [] });
  }
  const onConflict = params.onConflict ?? "keep";
  const keyed = jobs.some((job) => job.key !== null);
  if (
    jobs.some((job) => job.after !== null || hasFlowControl(job)) ||
    (keyed && onConflict === "replace")
  ) {
    return call(pg, () =>
      begin(pg, async (tx) => {
        const result = await insertFlow(pg, tx, jobs, now, onConflict);
        await insertExtras(tx, jobs, result);
        return result;
      }));
  }
  // Keys without dependencies ("keep" or "fail") stay on the bulk path:
  // the unique index leaves out each job whose key is active, also one
  // held by an earlier row of the batch, and the rule is applied after.
  const insert = keyed ? INSERT_CHUNK_KEYED : INSERT_CHUNK;
  return call(pg, () =>
    begin(pg, async (tx) => {
      // A key a final job still holds by its unique_for window (README "Flow
      // control") needs the rules of the one-by-one path.
      if (keyed) {
        const keys = [...new Set(jobs.map((j) => j.key).filter((k) => k !== null))];
        if ((await q(tx, WINDOW_HELD, [keys, now])).length > 0) {
          const result = await insertFlow(pg, tx, jobs, now, onConflict);
          await insertExtras(tx, jobs, result);
          return result;
        }
      }
      // Chunks are sent without waiting for each other (postgres.js
      // pipelines them on the transaction's connection), so the server
      // inserts one while this process builds the next.
      const inserts: Promise<Row[]>[] = [];
      for (let i = 0; i < jobs.length; i += INSERT_CHUNK_ROWS) {
        const chunk = jobs.slice(i, i + INSERT_CHUNK_ROWS);
        inserts.push(q(tx, insert, [
          chunk.map((j) => j.id),
          chunk.map((j) => j.command),
          chunk.map((j) => j.queue),
          chunk.map((j) => j.priority),
          chunk.map((j) => j.max_retries),
          chunk.map((j) => j.timeout),
          chunk.map((j) => (j.env === null ? null : JSON.stringify(j.env))),
          chunk.map((j) => j.cwd),
          chunk.map((j) => j.run_at),
          now,
          chunk.map((j) => (j.retry_on === null ? null : JSON.stringify(j.retry_on))),
          chunk.map((j) => j.key),
          chunk.map((j) => j.on_finish ?? null),
        ]));
      }
      // Inserts count themselves: one delta for the batch, no trigger.
      if (!keyed) inserts.push(q(tx, COUNT_PENDING, [jobs.length]));
      // The first failure aborts the transaction; the later chunks then
      // fail only for that reason, so the first one is the one to report.
      const failed = (await Promise.allSettled(inserts)).find((r) => r.status === "rejected");
      if (failed) {
        const id = duplicateId(failed.reason);
        if (id !== null) throw duplicateIdError(id);
        throw failed.reason;
      }
      const result: InsertResult = { inserted: jobs.length, kept: [], blocked: [], replaced: [] };
      if (keyed) {
        const added = new Set<string>();
        for (const r of inserts) {
          for (const row of await r) added.add(row.id as string);
        }
        result.inserted = added.size;
        if (added.size < jobs.length) {
          await keptByKey(pg, tx, jobs, added, now, onConflict, result);
        }
        await q(tx, COUNT_PENDING, [added.size]);
      }
      await insertExtras(tx, jobs, result);
      if (result.inserted > 0) await notify(pg, tx);
      return result;
    }));
}

const JOB_BY_ID = `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`;

/** One job by id, or `null`. */
export function jobGet(pg: PgDb, params: { id: string }): Promise<Job | null> {
  return call(pg, async () => {
    const [row] = await q(pg.sql, JOB_BY_ID, [params.id]);
    return row ? toJob(row) : null;
  });
}

const RUNS_OF_JOB = `SELECT attempt, started_at, finished_at, outcome, exit_code, signal, error,
    worker_id, hook
  FROM runs WHERE job_id = $1 ORDER BY seq`;

const STATES_BY_ID = "SELECT id, state FROM jobs WHERE id = ANY($1::text[])";

const DEPENDENTS = `SELECT j.id, j.state FROM job_deps d JOIN jobs j ON j.id = d.job_id
  WHERE d.dep_id = $1 ORDER BY j.created_at, j.seq`;

/** One job with its runs, dependencies and dependents; the job and runs from one snapshot. */
export function jobGetWithRuns(pg: PgDb, params: { id: string }): Promise<JobWithRuns | null> {
  return call(pg, async () => {
    // Two reads of one snapshot: a finish in between cannot mix old and new.
    const [rows, runs] = await pg.sql.begin(
      "isolation level repeatable read read only",
      (tx) =>
        Promise.all([
          q(tx as unknown as Sql, JOB_BY_ID, [params.id]),
          q(tx as unknown as Sql, RUNS_OF_JOB, [params.id]),
        ]),
    ) as [Row[], Row[]];
    const row = rows[0];
    if (!row) return null;
    const job = toJob(row);
    const [deps, dependents] = await Promise.all([
      job.after === null && job.after_any === null
        ? []
        : q(pg.sql, STATES_BY_ID, [[...(job.after ?? []), ...(job.after_any ?? [])]]),
      q(pg.sql, DEPENDENTS, [params.id]),
    ]);
    const states = new Map(deps.map((d) => [d.id as string, d.state as JobState]));
    return {
      ...job,
      runs: runs.map(toRun),
      dependencies: distinctIds([...(job.after ?? []), ...(job.after_any ?? [])]).map((id) => ({
        id,
        state: states.get(id) ?? null,
      })),
      dependents: dependents.map((d) => ({ id: d.id as string, state: d.state as JobState })),
    };
  });
}

const JOBS_BY_ID = `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ANY($1::text[])`;

/** The jobs of `ids` that exist, in no particular order. */
export function jobGetMany(pg: PgDb, params: { ids: string[] }): Promise<Job[]> {
  return call(pg, async () => (await q(pg.sql, JOBS_BY_ID, [params.ids])).map(toJob));
}

/** A page of jobs, newest first, filtered; the statement is built from the filters given. */
export function jobList(pg: PgDb, params: JobListParams): Promise<JobPage> {
  return call(pg, async () => {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (value: unknown) => {
      args.push(value);
      return `$${args.length}`;
    };
    const delayed = params.dueAfter !== undefined;
    if (delayed) where.push(`state = 'pending' AND next_run_at > ${arg(params.dueAfter)}`);
    else if (params.state) where.push(`state = ${arg(params.state)}`);
    if (params.queue) where.push(`queue = ${arg(params.queue)}`);
    if (params.search) {
      // ILIKE: SQLite's LIKE ignores case too.
      const like = arg(`%${params.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      where.push(`(id ILIKE ${like} ESCAPE '\\' OR command ILIKE ${like} ESCAPE '\\')`);
    }
    if (params.tags?.length) where.push(tagsFilter(params.tags, arg));
    if (params.createdBefore !== undefined) {
      where.push(`created_at < ${arg(params.createdBefore)}::bigint`);
    }
    // Delayed jobs page by due time, soonest first; the rest newest first.
    const [at, order] = delayed
      ? ["next_run_at", "ORDER BY next_run_at, seq"]
      : ["created_at", "ORDER BY created_at DESC, seq DESC"];
    if (params.cursor) {
      const cursor = decodeCursor(params.cursor);
      if (cursor) {
        where.push(
          `(${at}, seq) ${delayed ? ">" : "<"} (${arg(cursor.createdAt)}::bigint, ${
            arg(cursor.seq)
          }::bigint)`,
        );
      }
    }
    const rows = await q(
      pg.sql,
      `SELECT ${JOB_COLUMNS} FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ${order} LIMIT ${arg(params.limit + 1)}`,
      args,
    );
    const page = rows.slice(0, params.limit);
    const last = page[page.length - 1];
    return {
      jobs: page.map(toJob),
      nextCursor: rows.length > params.limit && last
        ? encodeCursor(last[at] as number, last.seq as number)
        : null,
    };
  });
}

const COUNT_BY_STATE = `SELECT state, sum(n) AS n FROM (
    SELECT state, n FROM job_counts UNION ALL SELECT state, n FROM job_count_deltas
  ) c GROUP BY state`;

/** Jobs per state: the base counts plus the deltas not yet folded in (exact). */
export function jobCountByState(pg: PgDb): Promise<Record<JobState, number>> {
  return call(pg, async () => {
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<
      JobState,
      number
    >;
    const rows = await q(pg.sql, COUNT_BY_STATE);
    for (const row of rows) {
      if (row.state as string in counts) counts[row.state as JobState] = row.n as number;
    }
    return counts;
  });
}

const LOCK_JOBS = "SELECT id, state FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE";

/** Locks the rows of `ids` in id order (so hosts never deadlock); a missing id is NotFound. */
async function lockJobs(tx: Sql, ids: string[]): Promise<Map<string, JobState>> {
  const rows = await q(tx, LOCK_JOBS, [[...new Set(ids)]]);
  const states = new Map(rows.map((r) => [r.id as string, r.state as JobState]));
  for (const id of ids) if (!states.has(id)) throw jobNotFound(id);
  return states;
}

async function jobsById(tx: Sql, ids: string[]): Promise<Job[]> {
  const rows = await q(tx, JOBS_BY_ID, [[...new Set(ids)]]);
  const jobs = new Map(rows.map((r) => [r.id as string, toJob(r)]));
  return ids.map((id) => jobs.get(id)!);
}

const KEY_HELD = `SELECT j.id, o.id AS holder, j.unique_key FROM jobs j
  JOIN jobs o ON o.unique_key = j.unique_key AND o.id <> j.id AND o.state IN ${ACTIVE}
  WHERE j.id = ANY($1::text[]) AND j.unique_key IS NOT NULL
  ORDER BY j.id LIMIT 1`;

const RETRY = `UPDATE jobs SET next_run_at = $3, updated_at = $3,
    deps_open = coalesce(o.n, 0),
    state = CASE WHEN coalesce(o.n, 0) > 0 THEN 'blocked' ELSE 'pending' END,
    attempts = CASE WHEN id = ANY($1::text[]) THEN 0 ELSE attempts END
  FROM (SELECT unnest($1::text[] || $2::text[]) AS rid) r
  LEFT JOIN (SELECT unnest($4::text[]) AS oid, unnest($5::int[]) AS n) o ON o.oid = r.rid
  WHERE jobs.id = r.rid`;

/** Retries jobs by id, all or none, under their row locks (taken in id order). */
export function jobRetry(
  pg: PgDb,
  params: { ids: string[]; now: number; dlqOnly?: boolean | undefined },
): Promise<Job[]> {
  return call(pg, () =>
    begin(pg, async (tx) => {
      const states = await lockJobs(tx, params.ids);
      const reset: string[] = [];
      const keep: string[] = [];
      const opens = new Map<string, number>();
      for (const id of params.ids) {
        const state = states.get(id)!;
        const plan = planRetry(id, state, params);
        (plan.resetAttempts ? reset : keep).push(id);
        states.set(id, plan.state);
        if (state === "cancelled") {
          opens.set(id, await openDependencies(tx, id, new Set(params.ids)));
        }
      }
      if (params.ids.length > 0) {
        const [held] = await q(tx, KEY_HELD, [params.ids]);
        if (held) {
          throw keyHeld(held.id as string, held.unique_key as string, held.holder as string);
        }
        await q(tx, RETRY, [reset, keep, params.now, [...opens.keys()], [...opens.values()]]);
        await notify(pg, tx);
      }
      return await jobsById(tx, params.ids);
    }));
}

const RETRY_ALL_DEAD = `WITH moved AS (
    UPDATE jobs SET state = 'pending', attempts = 0, next_run_at = $1, updated_at = $1
    WHERE state = 'dead' AND (unique_key IS NULL OR NOT EXISTS (
      SELECT 1 FROM jobs o WHERE o.unique_key = jobs.unique_key AND o.id <> jobs.id
        AND (o.state IN ${ACTIVE} OR (o.state = 'dead' AND o.seq > jobs.seq))))
    RETURNING 1)
  SELECT count(*) AS n FROM moved`;

/** Retries every dead job in one statement; returns how many. */
export function jobRetryAllDead(pg: PgDb, params: { now: number }): Promise<number> {
  return call(pg, () =>
    begin(pg, async (tx) => {
      // A dead job whose key another job holds (an active one, or a newer
      // dead one retried here too) stays dead: a key has one active job.
      const rows = await q(tx, RETRY_ALL_DEAD, [params.now]);
      const n = rows[0]!.n as number;
      if (n > 0) await notify(pg, tx);
      return n;
    }));
}

const CANCEL = `UPDATE jobs SET state = 'cancelled', next_run_at = NULL, updated_at = $2
  WHERE id = ANY($1::text[])`;

const REQUEST_CANCEL =
  "UPDATE jobs SET cancel_requested = true, updated_at = $2 WHERE id = ANY($1::text[])";

/**
 * Cancels jobs by id, all or none, under their row locks: a waiting job at
 * once, a running one by a request its worker acts on.
 */
export function jobCancel(pg: PgDb, params: { ids: string[]; now: number }): Promise<Job[]> {
  return call(pg, () =>
    begin(pg, async (tx) => {
      const states = await lockJobs(tx, params.ids);
      const cancel: string[] = [];
      const flag: string[] = [];
      for (const id of params.ids) {
        if (planCancel(id, states.get(id)!) === "cancel") {
          cancel.push(id);
          states.set(id, "cancelled");
        } else {
          flag.push(id);
        }
      }
      if (cancel.length > 0) await q(tx, CANCEL, [cancel, params.now]);
      if (flag.length > 0) await q(tx, REQUEST_CANCEL, [flag, params.now]);
      if (params.ids.length > 0) await notify(pg, tx);
      return await jobsById(tx, params.ids);
    }));
}

const RUN_NOW = `UPDATE jobs SET updated_at = $2,
    next_run_at = CASE WHEN next_run_at > $2 THEN $2 ELSE next_run_at END
  WHERE id = $1 AND state = 'pending' RETURNING ${JOB_COLUMNS}`;

/** Makes a pending job due now, guarded on its state in the same statement; wakes the workers. */
export function jobRunNow(pg: PgDb, params: { id: string; now: number }): Promise<Job> {
  return call(pg, () =>
    begin(pg, async (tx) => {
      const [row] = await q(tx, RUN_NOW, [params.id, params.now]);
      if (row) {
        await notify(pg, tx);
        return toJob(row);
      }
      const [job] = await q(tx, "SELECT state FROM jobs WHERE id = $1", [params.id]);
      if (!job) throw jobNotFound(params.id);
      throw runNowRefused(params.id, job.state as JobState);
    }));
}

const DELETE_DEAD = `WITH gone AS (
    DELETE FROM jobs WHERE state = 'dead' AND updated_at < $1 RETURNING id),
  runs_gone AS (DELETE FROM runs WHERE job_id IN (SELECT id FROM gone)),
  deps_gone AS (DELETE FROM job_deps WHERE job_id IN (SELECT id FROM gone)),
  outputs_gone AS (DELETE FROM run_outputs WHERE job_id IN (SELECT id FROM gone))
  SELECT count(*) AS n FROM gone`;

/** Deletes dead jobs (older than a cutoff) with their runs, in one statement. */
export function jobDeleteDead(
  pg: PgDb,
  params: { olderThan?: number | undefined },
): Promise<number> {
  return call(pg, () =>
    begin(pg, async (tx) => {
      const cutoff = params.olderThan ?? Number.MAX_SAFE_INTEGER;
      const rows = await q(tx, DELETE_DEAD, [cutoff]);
      return rows[0]!.n as number;
    }));
}

/**
 * A final job still holding its key by its `unique_for` window (at `$4`)
 * is not pruned (README "Flow control"): deleting it would free the key early.
 */
const WINDOW_CLOSED =
  "(unique_for IS NULL OR created_at + (unique_for * 1000)::bigint <= $4::bigint)";

const PRUNE_COUNT = `SELECT c.state, (SELECT count(*) FROM jobs
    WHERE state = c.state AND updated_at < c.cutoff AND ${WINDOW_CLOSED.replace("$4", "$3")}) AS n
  FROM unnest($1::text[], $2::int8[]) AS c(state, cutoff)`;

const PRUNE = `WITH doomed AS MATERIALIZED (
    SELECT j.seq FROM unnest($1::text[], $2::int8[]) AS c(state, cutoff),
      LATERAL (SELECT seq FROM jobs
        WHERE state = c.state AND updated_at < c.cutoff AND ${WINDOW_CLOSED}
        LIMIT $3 FOR UPDATE SKIP LOCKED) j
    LIMIT $3),
  gone AS (
    DELETE FROM jobs WHERE seq IN (SELECT seq FROM doomed)
      AND state = ANY($1::text[]) RETURNING id, state),
  runs_gone AS (DELETE FROM runs WHERE job_id IN (SELECT id FROM gone)),
  deps_gone AS (DELETE FROM job_deps WHERE job_id IN (SELECT id FROM gone)),
  outputs_gone AS (DELETE FROM run_outputs WHERE job_id IN (SELECT id FROM gone))
  SELECT state, count(*) AS n FROM gone GROUP BY state`;

/** Deletes (or with `dryRun` counts) final jobs older than their state's cutoff, a batch at a time. */
export function jobPrune(
  pg: PgDb,
  params: PruneParams & { now: number },
): Promise<PruneCounts> {
  const states = PRUNABLE_STATES.filter((state) => typeof params.before[state] === "number");
  const cutoffs = states.map((state) => params.before[state]!);
  return call(pg, async () => {
    const counts: PruneCounts = { completed: 0, cancelled: 0, dead: 0 };
    if (states.length === 0) return counts;
    // One statement: no explicit transaction, rows other sessions hold are
    // skipped (a batch never waits behind a claim or a retry).
    const rows = params.dryRun
      ? await q(pg.sql, PRUNE_COUNT, [states, cutoffs, params.now])
      : await q(pg.sql, PRUNE, [
        states,
        cutoffs,
        params.limit ?? Number.MAX_SAFE_INTEGER,
        params.now,
      ]);
    for (const row of rows) counts[row.state as keyof PruneCounts] = row.n as number;
    return counts;
  });
}
