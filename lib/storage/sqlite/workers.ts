/**
 * Workers on SQLite: supervisors (and dashboards) registering, their
 * heartbeats (which extend their jobs' leases) with the stop and cancel
 * requests each reply carries, the list of them, and whose turn a
 * maintenance pass is. Each export is the `Storage` method of its name
 * (documented there).
 */
import type { SQLInputValue } from "node:sqlite";
import { toWorker } from "../_rows.ts";
import type { HeartbeatReply, WorkerInfo, WorkerRequests, WorkerRole } from "../storage.ts";
import { promise, type SqliteDb } from "./connection.ts";

export function workerRegister(db: SqliteDb, params: {
  id: string;
  pid: number;
  host: string;
  count: number;
  queues: string[] | null;
  now: number;
  role?: WorkerRole;
  clockOffsetMs?: number;
  procStart?: string | null;
  pidSpace?: string | null;
}): Promise<void> {
  return promise(() => {
    db.write(() =>
      db.run(
        `INSERT OR REPLACE INTO workers (id, pid, host, count, queues, started_at, heartbeat_at,
         role, clock_offset_ms, proc_start, pid_space)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        params.id,
        params.pid,
        params.host,
        params.count,
        params.queues ? JSON.stringify(params.queues) : null,
        params.now,
        params.now,
        params.role ?? "worker",
        Math.round(params.clockOffsetMs ?? 0),
        params.procStart ?? null,
        params.pidSpace ?? null,
      )
    );
  });
}

export function workerHeartbeat(
  db: SqliteDb,
  params: { id: string; now?: number | undefined; leaseMs: number; clockOffsetMs?: number },
): Promise<HeartbeatReply> {
  return promise(() =>
    db.write(() => {
      const now = params.now ?? db.now();
      const registered = db.run(
        `UPDATE workers SET heartbeat_at = ?, clock_offset_ms = coalesce(?, clock_offset_ms)
         WHERE id = ?`,
        now,
        params.clockOffsetMs === undefined ? null : Math.round(params.clockOffsetMs),
        params.id,
      ) > 0;
      // Never shortens a lease (DESIGN.md, "Fencing").
      const held = db.all(
        `UPDATE jobs SET lease_expires_at = max(coalesce(lease_expires_at, 0), ?)
         WHERE state = 'processing' AND worker_id = ? RETURNING id, attempts`,
        now + params.leaseMs,
        params.id,
      ).map((row) => ({ id: row.id as string, attempt: row.attempts as number }))
        .sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      return { ...requests(db, params.id), held, registered };
    }, null)
  );
}

export function workerRequestsGet(db: SqliteDb, params: { id: string }): Promise<WorkerRequests> {
  return promise(() => db.read(() => requests(db, params.id)));
}

function requests(db: SqliteDb, workerId: string): WorkerRequests {
  const worker = db.get("SELECT stop_requested FROM workers WHERE id = ?", workerId);
  const cancelled = db.all(
    `SELECT id FROM jobs INDEXED BY jobs_running
     WHERE state = 'processing' AND worker_id = ? AND cancel_requested = 1`,
    workerId,
  );
  return {
    stopRequested: (worker?.stop_requested as "graceful" | "force" | null | undefined) ?? null,
    cancelRequested: cancelled.map((r) => r.id as string),
  };
}

export function workerRemove(db: SqliteDb, params: { id: string }): Promise<void> {
  return promise(() => {
    db.write(() => db.run("DELETE FROM workers WHERE id = ?", params.id));
  });
}

/** The workers `sql` selects, each with its running jobs. */
function workers(
  db: SqliteDb,
  sql: string,
  lateBefore: number,
  ...args: SQLInputValue[]
): WorkerInfo[] {
  const rows = db.all(sql, ...args);
  if (rows.length === 0) return [];
  // The running jobs of all these workers in one query, not one per worker.
  const running = new Map<string, string[]>();
  for (
    const row of db.all(
      `SELECT worker_id, id FROM jobs INDEXED BY jobs_running
       WHERE state = 'processing' AND worker_id IN (SELECT value FROM json_each(?)) ORDER BY id`,
      JSON.stringify(rows.map((row) => row.id)),
    )
  ) {
    const ids = running.get(row.worker_id as string) ?? [];
    ids.push(row.id as string);
    running.set(row.worker_id as string, ids);
  }
  return rows.map((row) => toWorker(row, running.get(row.id as string) ?? [], lateBefore));
}

export function workerList(
  db: SqliteDb,
  params: { staleBefore: number; lateBefore?: number },
): Promise<WorkerInfo[]> {
  return promise(() =>
    db.read(() =>
      workers(
        db,
        "SELECT * FROM workers WHERE heartbeat_at >= ? ORDER BY started_at, id",
        params.lateBefore ?? -Infinity,
        params.staleBefore,
      )
    )
  );
}

export function workerListAll(db: SqliteDb): Promise<WorkerInfo[]> {
  return promise(() =>
    db.read(() => workers(db, "SELECT * FROM workers ORDER BY started_at, id", -Infinity))
  );
}

export function turnTake(
  db: SqliteDb,
  params: { name?: string | undefined; holder: string; now?: number | undefined; ttlMs: number },
): Promise<boolean> {
  const now = params.now ?? db.now();
  return promise(() =>
    db.write(
      () =>
        db.run(
          `INSERT INTO turns (name, holder, until) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
         WHERE turns.holder = excluded.holder OR turns.until < ?`,
          params.name ?? "rescuer",
          params.holder,
          now + params.ttlMs,
          now,
        ) > 0,
      null,
    )
  );
}

export function workerRequestStop(
  db: SqliteDb,
  params: { ids?: string[]; mode: "graceful" | "force" },
): Promise<number> {
  return promise(() =>
    db.write(() =>
      params.ids
        ? db.run(
          "UPDATE workers SET stop_requested = ? WHERE id IN (SELECT value FROM json_each(?))",
          params.mode,
          JSON.stringify(params.ids),
        )
        : db.run("UPDATE workers SET stop_requested = ?", params.mode)
    )
  );
}
