/**
 * Operator controls on SQLite (README "Operating a queue"): hold and
 * release, edit, delete by id, and the actions by filter, one batch per
 * write (DESIGN.md "Operator controls"). Each export is the `Storage`
 * method of its name (documented there).
 */
import type { SQLInputValue } from "node:sqlite";
import { ConflictError, jobNotFound } from "../../errors.ts";
import type { HoldableState, Job, JobState } from "../../job.ts";
import { cascadeError } from "../../job_flow.ts";
import {
  type BulkAction,
  bulkStates,
  planDelete,
  planEdit,
  planHold,
  planRelease,
  planReleaseTo,
} from "../../state.ts";
import { type Row, toJob } from "../_rows.ts";
import type { BulkStep, BulkStepParams, JobChanges, JobFilter } from "../storage.ts";
import { addJobFilter } from "./_operator_fields.ts";
import { promise, type SqliteDb, type WakeKind } from "./connection.ts";
import { settleDependents } from "./flow.ts";
import { retryRow } from "./jobs.ts";

function requireJob(db: SqliteDb, id: string): Row {
  const row = db.get("SELECT * FROM jobs WHERE id = ?", id);
  if (!row) throw jobNotFound(id);
  return row;
}

export function jobHold(db: SqliteDb, params: { ids: string[]; now: number }): Promise<Job[]> {
  const ids = [...new Set(params.ids)];
  return promise(() =>
    db.write(() => {
      for (const id of ids) planHold(id, requireJob(db, id).state as JobState);
      db.run(
        `UPDATE jobs SET held_from = state, state = 'held', updated_at = ?
         WHERE id IN (SELECT value FROM json_each(?))`,
        params.now,
        JSON.stringify(ids),
      );
      return ids.map((id) => toJob(requireJob(db, id)));
    }, "ends")
  );
}

export function jobRelease(db: SqliteDb, params: { ids: string[]; now: number }): Promise<Job[]> {
  const ids = [...new Set(params.ids)];
  return promise(() =>
    db.write(() => {
      const rows = ids.map((id) => requireJob(db, id));
      for (const row of rows) planRelease(row.id as string, row.state as JobState);
      for (const row of rows) releaseRow(db, row, params.now);
      return ids.map((id) => toJob(requireJob(db, id)));
    })
  );
}

/**
 * Puts one held job back (see `planReleaseTo()`). One held from `blocked`
 * counts its open dependencies again (they may have completed meanwhile);
 * one whose `after` dependency ended dead or cancelled while it was held is
 * cancelled as the cascade would have, and its own dependents with it.
 */
function releaseRow(db: SqliteDb, row: Row, now: number): void {
  const id = row.id as string;
  const from = (row.held_from ?? "pending") as HoldableState;
  let open = 0;
  if (from === "blocked") {
    for (
      const dep of db.all(
        `SELECT d.dep_id, d.any_outcome, j.state, j.last_error FROM job_deps d
         LEFT JOIN jobs j ON j.id = d.dep_id WHERE d.job_id = ?`,
        id,
      )
    ) {
      if (dep.state === null || dep.state === "completed") continue;
      if (dep.state === "dead" || dep.state === "cancelled") {
        // An after_any dependency is met by any end (README "Flow control").
        if (dep.any_outcome) continue;
        const error = cascadeError(
          dep.dep_id as string,
          dep.state as JobState,
          dep.last_error as string | null,
        );
        db.run(
          `UPDATE jobs SET state = 'cancelled', held_from = NULL, next_run_at = NULL,
             last_error = ?, updated_at = ? WHERE id = ?`,
          error,
          now,
          id,
        );
        settleDependents(db, [{ id, state: "cancelled", error }], now);
        return;
      }
      open++;
    }
  }
  const plan = planReleaseTo(from, open, row.next_run_at as number | null, now);
  db.run(
    `UPDATE jobs SET state = ?, held_from = NULL, deps_open = ?, next_run_at = ?, updated_at = ?
     WHERE id = ?`,
    plan.state,
    open,
    plan.next_run_at,
    now,
    id,
  );
}

export function jobEdit(
  db: SqliteDb,
  params: { id: string; changes: JobChanges; now: number },
): Promise<Job> {
  const { id, changes } = params;
  return promise(() =>
    db.write(() => {
      planEdit(id, requireJob(db, id).state as JobState);
      const set: string[] = ["updated_at = ?"];
      const args: SQLInputValue[] = [params.now];
      const column = (name: string, value: SQLInputValue) => {
        set.push(`${name} = ?`);
        args.push(value);
      };
      if (changes.command !== undefined) column("command", changes.command);
      if (changes.priority !== undefined) column("priority", changes.priority);
      if (changes.queue !== undefined) column("queue", changes.queue);
      if (changes.runAt !== undefined) column("next_run_at", changes.runAt);
      if (changes.max_retries !== undefined) column("max_retries", changes.max_retries);
      if (changes.timeout !== undefined) column("timeout", changes.timeout);
      if (changes.tags !== undefined) {
        column("tags", changes.tags?.length ? JSON.stringify(changes.tags) : null);
      }
      if (changes.env !== undefined) {
        column("env", changes.env === null ? null : JSON.stringify(changes.env));
      }
      db.run(`UPDATE jobs SET ${set.join(", ")} WHERE id = ?`, ...args, id);
      // Hook: the events feature writes the `edited` event here, in this
      // same transaction (DESIGN.md "Operator controls").
      return toJob(requireJob(db, id));
    })
  );
}

export function jobDelete(db: SqliteDb, params: { ids: string[] }): Promise<number> {
  const ids = [...new Set(params.ids)];
  return promise(() =>
    db.write(() => {
      for (const id of ids) planDelete(id, requireJob(db, id).state as JobState);
      return deleteIds(db, JSON.stringify(ids));
    }, "ends")
  );
}

/** Deletes jobs (a JSON array of ids) with their runs and their own dependency edges. */
function deleteIds(db: SqliteDb, ids: string): number {
  db.run("DELETE FROM runs WHERE job_id IN (SELECT value FROM json_each(?))", ids);
  // Their own edges; a dependent's edge to one stays (shown as pruned).
  db.run("DELETE FROM job_deps WHERE job_id IN (SELECT value FROM json_each(?))", ids);
  return db.run("DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?))", ids);
}

/** The states the action applies to that the filter allows (none: nothing to do). */
function actionStates(action: BulkAction, filter: JobFilter): JobState[] {
  const states = bulkStates(action);
  return filter.state === undefined ? states : states.filter((s) => s === filter.state);
}

/** The WHERE of an action by filter: its states and every part of the filter. */
function bulkWhere(
  states: JobState[],
  filter: JobFilter,
): { where: string[]; args: SQLInputValue[] } {
  const where = [`state IN (${states.map(() => "?").join(", ")})`];
  const args: SQLInputValue[] = [...states];
  addJobFilter(where, args, { ...filter, state: undefined });
  return { where, args };
}

export function jobBulkCount(
  db: SqliteDb,
  params: { action: BulkAction; filter: JobFilter; sample: number },
): Promise<{ count: number; ids: string[] }> {
  return promise(() => {
    const states = actionStates(params.action, params.filter);
    if (states.length === 0) return { count: 0, ids: [] };
    const { where, args } = bulkWhere(states, params.filter);
    return db.read(() => {
      const count = db.get(`SELECT count(*) AS n FROM jobs WHERE ${where.join(" AND ")}`, ...args)!
        .n as number;
      const ids = db.all(
        `SELECT id FROM jobs WHERE ${where.join(" AND ")} ORDER BY seq LIMIT ?`,
        ...args,
        params.sample,
      ).map((r) => r.id as string);
      return { count, ids };
    });
  });
}

/** The bulk cursor: the last `seq` of the jobs that existed at the first step, and the last one done. */
function decodeBulkCursor(
  cursor: string | null | undefined,
): { bound: number; after: number } | null {
  const match = /^([0-9a-z]+)\.([0-9a-z]+)$/.exec(cursor ?? "");
  return match ? { bound: parseInt(match[1]!, 36), after: parseInt(match[2]!, 36) } : null;
}

/**
 * One batch: the window of the next `limit` matching jobs is found by a
 * read (which never blocks writers), then the write takes every job of
 * that window that still matches, so one that a worker claimed meanwhile
 * is judged in its new state (DESIGN.md "Operator controls").
 */
export function jobBulkStep(db: SqliteDb, params: BulkStepParams): Promise<BulkStep> {
  return promise(() => {
    const step: BulkStep = { changed: 0, requested: 0, skipped: 0, cursor: null };
    const states = actionStates(params.action, params.filter);
    if (states.length === 0) return step;
    const { where, args } = bulkWhere(states, params.filter);
    const cursor = decodeBulkCursor(params.cursor);
    const bound = cursor?.bound ??
      (db.read(() => db.get("SELECT max(seq) AS n FROM jobs")!.n as number | null) ?? 0);
    const after = cursor?.after ?? 0;
    // The rowid walk (NOT INDEXED): each batch goes on where the last ended.
    const window = db.read(() =>
      db.all(
        `SELECT seq FROM jobs NOT INDEXED WHERE seq > ? AND seq <= ? AND ${where.join(" AND ")}
         ORDER BY seq LIMIT ?`,
        after,
        bound,
        ...args,
        params.limit,
      )
    );
    if (window.length === 0) return step;
    const last = window[window.length - 1]!.seq as number;
    const wake = (s: BulkStep): WakeKind | null =>
      s.changed + s.requested === 0
        ? null
        : params.action === "retry" || params.action === "release" || s.requested > 0
        ? "jobs"
        : "ends";
    db.write(() => {
      const rows = db.all(
        // NOT INDEXED: the rowid range of the window, never the state index
        // (which would read every pending job for each batch).
        `SELECT * FROM jobs NOT INDEXED WHERE seq > ? AND seq <= ? AND ${
          where.join(" AND ")
        } ORDER BY seq`,
        after,
        last,
        ...args,
      );
      applyBulk(db, params.action, rows, params.now, step);
      return step;
    }, wake);
    if (window.length === params.limit) {
      step.cursor = `${bound.toString(36)}.${last.toString(36)}`;
    }
    return step;
  });
}

/** Applies an action to the rows of one batch (inside its write), counting into `step`. */
function applyBulk(db: SqliteDb, action: BulkAction, rows: Row[], now: number, step: BulkStep) {
  if (rows.length === 0) return;
  const seqs = (filter: (row: Row) => boolean) =>
    JSON.stringify(rows.filter(filter).map((r) => r.seq));
  switch (action) {
    case "cancel": {
      const ended = db.all(
        `UPDATE jobs SET state = 'cancelled', next_run_at = NULL, held_from = NULL, updated_at = ?
         WHERE seq IN (SELECT value FROM json_each(?)) RETURNING id, last_error`,
        now,
        seqs((r) => r.state !== "processing"),
      ).map((r) => ({
        id: r.id as string,
        state: "cancelled" as const,
        error: r.last_error as string | null,
      }));
      settleDependents(db, ended, now);
      step.changed += ended.length;
      // A running job is stopped by its worker, as `cancel <id>` does.
      step.requested += db.run(
        `UPDATE jobs SET cancel_requested = 1, updated_at = ?
         WHERE seq IN (SELECT value FROM json_each(?)) AND cancel_requested = 0`,
        now,
        seqs((r) => r.state === "processing"),
      );
      return;
    }
    case "hold":
      step.changed += db.run(
        `UPDATE jobs SET held_from = state, state = 'held', updated_at = ?
         WHERE seq IN (SELECT value FROM json_each(?))`,
        now,
        seqs(() => true),
      );
      return;
    case "release":
      for (const row of rows) releaseRow(db, row, now);
      step.changed += rows.length;
      return;
    case "retry": {
      const batch = new Set(rows.map((r) => r.id as string));
      for (const row of rows) {
        try {
          retryRow(db, row, now, batch);
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
      step.changed += deleteIds(db, JSON.stringify(rows.map((r) => r.id)));
      return;
    default: {
      const never: never = action;
      throw new Error(`Unknown action "${never}"`);
    }
  }
}
