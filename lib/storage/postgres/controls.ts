/**
 * Operator controls on PostgreSQL (README "Operating a queue"): hold and
 * release, edit, delete by id, and the actions by filter, one short
 * transaction per batch with its rows locked in id order, as every
 * multi-row write here (DESIGN.md "Operator controls"). The twin of
 * `sqlite/controls.ts`.
 */
import { ConflictError, jobNotFound } from "../../errors.ts";
import type { HoldableState, Job, JobState } from "../../job.ts";
import { cascadeError, keyHeld } from "../../job_flow.ts";
import {
  type BulkAction,
  bulkStates,
  planDelete,
  planEdit,
  planHold,
  planRelease,
  planReleaseTo,
  planRetry,
} from "../../state.ts";
import { type Row, toJob } from "../_rows.ts";
import type { BulkStep, BulkStepParams, JobChanges, JobFilter } from "../storage.ts";
import { type Arg, jobFilterSql } from "./_operator_fields.ts";
import { begin, call, notify, type PgDb, q, type Sql } from "./connection.ts";
import { ACTIVE, openDependencies } from "./flow.ts";
import { JOB_COLUMNS } from "./jobs.ts";

const LOCK_ROWS = `SELECT ${JOB_COLUMNS}, held_from FROM jobs
  WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`;

/** Locks the rows of `ids` in id order (hosts never deadlock); a missing id is NotFound. */
async function lockRows(tx: Sql, ids: string[]): Promise<Row[]> {
  const rows = await q(tx, LOCK_ROWS, [ids]);
  const found = new Set(rows.map((r) => r.id as string));
  for (const id of ids) if (!found.has(id)) throw jobNotFound(id);
  return rows;
}

const JOBS_BY_ID = `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ANY($1::text[])`;

async function jobsById(tx: Sql, ids: string[]): Promise<Job[]> {
  const jobs = new Map((await q(tx, JOBS_BY_ID, [ids])).map((r) => [r.id as string, toJob(r)]));
  return ids.map((id) => jobs.get(id)!);
}

const HOLD = `UPDATE jobs SET held_from = state, state = 'held', updated_at = $2
  WHERE id = ANY($1::text[])`;

/** Holds waiting jobs by id, all or none, under their row locks. */
export function jobHold(pg: PgDb, params: { ids: string[]; now: number }): Promise<Job[]> {
  const ids = [...new Set(params.ids)];
  return call(pg, () =>
    begin(pg, async (tx) => {
      for (const row of await lockRows(tx, ids)) {
        planHold(row.id as string, row.state as JobState);
      }
      await q(tx, HOLD, [ids, params.now]);
      return await jobsById(tx, ids);
    }));
}

/** Releases held jobs by id, all or none, under their row locks. */
export function jobRelease(pg: PgDb, params: { ids: string[]; now: number }): Promise<Job[]> {
  const ids = [...new Set(params.ids)];
  return call(pg, () =>
    begin(pg, async (tx) => {
      const rows = await lockRows(tx, ids);
      for (const row of rows) planRelease(row.id as string, row.state as JobState);
      for (const row of rows) await releaseRow(tx, row, params.now);
      await notify(pg, tx);
      return await jobsById(tx, ids);
    }));
}

const DEPENDENCIES = `SELECT j.id, j.state, j.last_error, d.any_outcome FROM job_deps d
  JOIN jobs j ON j.id = d.dep_id WHERE d.job_id = $1 ORDER BY j.id FOR SHARE OF j`;

const RELEASE = `UPDATE jobs SET state = $2, held_from = NULL, deps_open = $3, next_run_at = $4,
  updated_at = $5 WHERE id = $1`;

const CANCEL_RELEASED = `UPDATE jobs SET state = 'cancelled', held_from = NULL,
  next_run_at = NULL, last_error = $2, updated_at = $3 WHERE id = $1`;

/**
 * Puts one held job back (see `planReleaseTo()`). One held from `blocked`
 * counts its open dependencies again, their rows locked so none ends
 * unseen; one whose `after` dependency ended dead or cancelled while it was held
 * is cancelled as the cascade would have (the trigger then cancels its
 * own blocked dependents).
 */
async function releaseRow(tx: Sql, row: Row, now: number): Promise<void> {
  const from = (row.held_from ?? "pending") as HoldableState;
  let open = 0;
  if (from === "blocked") {
    for (const dep of await q(tx, DEPENDENCIES, [row.id])) {
      if (dep.state === "completed") continue;
      if (dep.state === "dead" || dep.state === "cancelled") {
        // An after_any dependency is met by any end (README "Flow control").
        if (dep.any_outcome) continue;
        const error = cascadeError(
          dep.id as string,
          dep.state as JobState,
          dep.last_error as string | null,
        );
        await q(tx, CANCEL_RELEASED, [row.id, error, now]);
        return;
      }
      open++;
    }
  }
  const plan = planReleaseTo(from, open, row.next_run_at as number | null, now);
  await q(tx, RELEASE, [row.id, plan.state, open, plan.next_run_at, now]);
}

/** Changes a waiting job's fields in one statement under its row lock. */
export function jobEdit(
  pg: PgDb,
  params: { id: string; changes: JobChanges; now: number },
): Promise<Job> {
  const { id, changes } = params;
  return call(pg, () =>
    begin(pg, async (tx) => {
      const [row] = await lockRows(tx, [id]);
      planEdit(id, row!.state as JobState);
      const args: unknown[] = [id, params.now];
      const set = ["updated_at = $2"];
      const column = (name: string, value: unknown, cast: string) => {
        args.push(value);
        set.push(`${name} = $${args.length}::${cast}`);
      };
      if (changes.command !== undefined) column("command", changes.command, "text");
      if (changes.priority !== undefined) column("priority", changes.priority, "int");
      if (changes.queue !== undefined) column("queue", changes.queue, "text");
      if (changes.runAt !== undefined) column("next_run_at", changes.runAt, "int8");
      if (changes.max_retries !== undefined) column("max_retries", changes.max_retries, "int");
      if (changes.timeout !== undefined) column("timeout", changes.timeout, "float8");
      if (changes.tags !== undefined) {
        column("tags", changes.tags?.length ? JSON.stringify(changes.tags) : null, "text");
      }
      if (changes.env !== undefined) {
        column("env", changes.env === null ? null : JSON.stringify(changes.env), "text");
      }
      await q(tx, `UPDATE jobs SET ${set.join(", ")} WHERE id = $1`, args);
      // Hook: the events feature writes the `edited` event here, in this
      // same transaction (DESIGN.md "Operator controls").
      await notify(pg, tx);
      return (await jobsById(tx, [id]))[0]!;
    }));
}

const DELETE_IDS = `WITH gone AS (
    DELETE FROM jobs WHERE id = ANY($1::text[]) RETURNING id),
  runs_gone AS (DELETE FROM runs WHERE job_id IN (SELECT id FROM gone)),
  deps_gone AS (DELETE FROM job_deps WHERE job_id IN (SELECT id FROM gone)),
  outputs_gone AS (DELETE FROM run_outputs WHERE job_id IN (SELECT id FROM gone))
  SELECT count(*) AS n FROM gone`;

/** Deletes final jobs by id, all or none, with their runs and output. */
export function jobDelete(pg: PgDb, params: { ids: string[] }): Promise<number> {
  const ids = [...new Set(params.ids)];
  return call(pg, () =>
    begin(pg, async (tx) => {
      for (const row of await lockRows(tx, ids)) {
        planDelete(row.id as string, row.state as JobState);
      }
      return (await q(tx, DELETE_IDS, [ids]))[0]!.n as number;
    }));
}

/** The states the action applies to that the filter allows (none: nothing to do). */
function actionStates(action: BulkAction, filter: JobFilter): JobState[] {
  const states = bulkStates(action);
  return filter.state === undefined ? states : states.filter((s) => s === filter.state);
}

/** The WHERE terms of an action by filter, with their arguments. */
function bulkWhere(states: JobState[], filter: JobFilter): { where: string[]; args: unknown[] } {
  const args: unknown[] = [];
  const arg: Arg = (value) => {
    args.push(value);
    return `$${args.length}`;
  };
  const where = [`state = ANY(${arg(states)}::text[])`];
  where.push(...jobFilterSql({ ...filter, state: undefined }, arg));
  return { where, args };
}

/** How many jobs an action by filter would change now, and the first ids. */
export function jobBulkCount(
  pg: PgDb,
  params: { action: BulkAction; filter: JobFilter; sample: number },
): Promise<{ count: number; ids: string[] }> {
  return call(pg, async () => {
    const states = actionStates(params.action, params.filter);
    if (states.length === 0) return { count: 0, ids: [] };
    const { where, args } = bulkWhere(states, params.filter);
    const sql = `FROM jobs WHERE ${where.join(" AND ")}`;
    const [count, ids] = await Promise.all([
      q(pg.sql, `SELECT count(*) AS n ${sql}`, args),
      q(pg.sql, `SELECT id ${sql} ORDER BY seq LIMIT ${params.sample | 0}`, args),
    ]);
    return { count: count[0]!.n as number, ids: ids.map((r) => r.id as string) };
  });
}

/** The bulk cursor: the last `seq` that existed at the first step, then the last id done. */
function decodeBulkCursor(
  cursor: string | null | undefined,
): { bound: number; after: string } | null {
  if (!cursor) return null;
  const dot = cursor.indexOf(".");
  return { bound: parseInt(cursor.slice(0, dot), 36), after: cursor.slice(dot + 1) };
}

/**
 * One batch: the window of the next `limit` matching ids is found by a
 * plain read, then one transaction locks every job of the window that
 * still matches (in id order; a row a claim is changing is waited for and
 * judged again in its new state) and changes them (DESIGN.md "Operator
 * controls").
 */
export function jobBulkStep(pg: PgDb, params: BulkStepParams): Promise<BulkStep> {
  return call(pg, async () => {
    const step: BulkStep = { changed: 0, requested: 0, skipped: 0, cursor: null };
    const states = actionStates(params.action, params.filter);
    if (states.length === 0) return step;
    const cursor = decodeBulkCursor(params.cursor);
    const bound = cursor?.bound ??
      ((await q(pg.sql, "SELECT max(seq) AS n FROM jobs"))[0]!.n as number | null) ?? 0;
    const { where, args } = bulkWhere(states, params.filter);
    const n = args.length;
    const scope = `seq <= $${n + 1}::int8 AND id > $${n + 2}::text AND ${where.join(" AND ")}`;
    const window = await q(
      pg.sql,
      `SELECT id FROM jobs WHERE ${scope} ORDER BY id LIMIT $${n + 3}::int`,
      [...args, bound, cursor?.after ?? "", params.limit],
    );
    if (window.length === 0) return step;
    const last = window[window.length - 1]!.id as string;
    await begin(pg, async (tx) => {
      const rows = await q(
        tx,
        `SELECT ${JOB_COLUMNS}, held_from FROM jobs WHERE ${scope} AND id <= $${n + 3}::text
         ORDER BY id FOR UPDATE`,
        [...args, bound, cursor?.after ?? "", last],
      );
      await applyBulk(tx, params.action, rows, params.now, step);
      const claimable = params.action === "retry" || params.action === "release";
      if (step.requested > 0 || (claimable && step.changed > 0)) await notify(pg, tx);
    });
    if (window.length === params.limit) step.cursor = `${bound.toString(36)}.${last}`;
    return step;
  });
}

const CANCEL_IDS = `WITH done AS (UPDATE jobs SET state = 'cancelled', next_run_at = NULL,
    held_from = NULL, updated_at = $2 WHERE id = ANY($1::text[]) RETURNING 1)
  SELECT count(*) AS n FROM done`;

const REQUEST_CANCEL_IDS = `WITH done AS (UPDATE jobs SET cancel_requested = true,
    updated_at = $2 WHERE id = ANY($1::text[]) AND NOT cancel_requested RETURNING 1)
  SELECT count(*) AS n FROM done`;

const HOLD_IDS = `WITH done AS (UPDATE jobs SET held_from = state, state = 'held',
    updated_at = $2 WHERE id = ANY($1::text[]) RETURNING 1)
  SELECT count(*) AS n FROM done`;

const KEY_HOLDER = `SELECT id FROM jobs WHERE unique_key = $1 AND state IN ${ACTIVE}
  AND id <> $2 LIMIT 1`;

const RETRY_ONE = `UPDATE jobs SET next_run_at = $2, updated_at = $2, deps_open = $3,
    state = CASE WHEN $3::int > 0 THEN 'blocked' ELSE 'pending' END,
    attempts = CASE WHEN $4::boolean THEN 0 ELSE attempts END
  WHERE id = $1`;

/** Applies an action to the locked rows of one batch, counting into `step`. */
async function applyBulk(
  tx: Sql,
  action: BulkAction,
  rows: Row[],
  now: number,
  step: BulkStep,
): Promise<void> {
  if (rows.length === 0) return;
  const ids = (filter: (row: Row) => boolean) => rows.filter(filter).map((r) => r.id as string);
  const count = async (sql: string, of: string[]) =>
    of.length === 0 ? 0 : (await q(tx, sql, [of, now]))[0]!.n as number;
  switch (action) {
    case "cancel":
      // Dependents follow by the cascade trigger; a running job is stopped
      // by its worker, as `cancel <id>` does.
      step.changed += await count(CANCEL_IDS, ids((r) => r.state !== "processing"));
      step.requested += await count(REQUEST_CANCEL_IDS, ids((r) => r.state === "processing"));
      return;
    case "hold":
      step.changed += await count(HOLD_IDS, ids(() => true));
      return;
    case "release":
      for (const row of rows) await releaseRow(tx, row, now);
      step.changed += rows.length;
      return;
    case "retry": {
      const batch = new Set(rows.map((r) => r.id as string));
      for (const row of rows) {
        const id = row.id as string;
        try {
          const plan = planRetry(id, row.state as JobState);
          if (row.unique_key !== null) {
            const [holder] = await q(tx, KEY_HOLDER, [row.unique_key, id]);
            if (holder) throw keyHeld(id, row.unique_key as string, holder.id as string);
          }
          const open = row.state === "cancelled" ? await openDependencies(tx, id, batch) : 0;
          await q(tx, RETRY_ONE, [id, now, open, plan.resetAttempts]);
          step.changed++;
        } catch (error) {
          // A key held by another job or a dead dependency: left as it is.
          if (!(error instanceof ConflictError)) throw error;
          step.skipped++;
        }
      }
      return;
    }
    case "delete":
      step.changed += (await q(tx, DELETE_IDS, [ids(() => true)]))[0]!.n as number;
      return;
    default: {
      const never: never = action;
      throw new Error(`Unknown action "${never}"`);
    }
  }
}
