/**
 * Workers on PostgreSQL: registration, heartbeats (which renew leases,
 * re-measure the server's clock and fold the count deltas), stop and
 * cancel requests, and the turn of a maintenance pass across hosts.
 */
import { type Row, toWorker } from "../_rows.ts";
import type { HeartbeatReply, WorkerInfo, WorkerRequests, WorkerRole } from "../storage.ts";
import {
  begin,
  call,
  hash32,
  LOCK_CLASS,
  LOCK_FOLD_COUNTS,
  notify,
  nowSql,
  type PgDb,
  q,
  SERVER_MS,
  setOffset,
  type Sql,
} from "./connection.ts";

const REGISTER = `INSERT INTO workers (id, pid, host, count, queues, started_at, heartbeat_at,
    stop_requested, role, clock_offset_ms, proc_start, pid_space)
  VALUES ($1, $2, $3, $4, $5, $6, $6, NULL, $7, $8, $9, $10)
  ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host,
    count = excluded.count, queues = excluded.queues, started_at = excluded.started_at,
    heartbeat_at = excluded.heartbeat_at, stop_requested = NULL, role = excluded.role,
    clock_offset_ms = excluded.clock_offset_ms, proc_start = excluded.proc_start,
    pid_space = excluded.pid_space`;

/** Registers a worker process, or re-registers it under the same id. */
export function workerRegister(pg: PgDb, params: {
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
  return call(pg, async () => {
    await q(pg.sql, REGISTER, [
      params.id,
      params.pid,
      params.host,
      params.count,
      params.queues ? JSON.stringify(params.queues) : null,
      params.now,
      params.role ?? "worker",
      Math.round(params.clockOffsetMs ?? 0),
      params.procStart ?? null,
      params.pidSpace ?? null,
    ]);
  });
}

const HEARTBEAT = `WITH w AS (UPDATE workers SET heartbeat_at = ${nowSql("$2")},
      clock_offset_ms = coalesce($3::bigint, clock_offset_ms) WHERE id = $1
    RETURNING stop_requested)
  SELECT (SELECT stop_requested FROM w) AS stop_requested, EXISTS (SELECT 1 FROM w) AS registered,
    ${SERVER_MS} AS ms`;

// Never shortens a lease (a slow heartbeat must not undo a newer claim's
// or renewal's), and judges by the server's clock (DESIGN.md, "Fencing").
const RENEW_LEASES = `UPDATE jobs
  SET lease_expires_at = greatest(lease_expires_at, ${nowSql("$3")} + $2::bigint)
  WHERE seq IN (
    SELECT seq FROM jobs WHERE state = 'processing' AND worker_id = $1
    ORDER BY id FOR UPDATE)
  RETURNING id, attempts, cancel_requested`;

/**
 * Renews the heartbeat and leases, re-measures the clock offset from the
 * same round trip (for display), folds the count deltas when no one else
 * is, and says which attempts the worker still holds.
 */
export function workerHeartbeat(
  pg: PgDb,
  params: { id: string; now?: number | undefined; leaseMs: number; clockOffsetMs?: number },
): Promise<HeartbeatReply> {
  return call(pg, () =>
    begin(pg, async (tx) => {
      const started = performance.now();
      const [worker] = await q(tx, HEARTBEAT, [
        params.id,
        params.now ?? null,
        params.clockOffsetMs === undefined ? null : Math.round(params.clockOffsetMs),
      ]);
      setOffset(pg, worker!.ms as number, started);
      const [jobs] = await Promise.all([
        q(tx, RENEW_LEASES, [params.id, params.leaseMs, params.now ?? null]),
        foldCounts(pg, tx),
      ]);
      const byId = [...jobs].sort((a, b) => (a.id as string) < (b.id as string) ? -1 : 1);
      return {
        stopRequested: (worker!.stop_requested as "graceful" | "force" | null) ?? null,
        cancelRequested: byId.filter((j) => j.cancel_requested).map((j) => j.id as string),
        held: byId.map((j) => ({ id: j.id as string, attempt: j.attempts as number })),
        registered: worker!.registered as boolean,
      };
    }));
}

const FOLD_COUNTS = `WITH lock AS (SELECT pg_try_advisory_xact_lock($1, $2) AS got),
  d AS (DELETE FROM job_count_deltas WHERE (SELECT got FROM lock) RETURNING state, n),
  s AS (SELECT state, sum(n) AS n FROM d GROUP BY state)
  UPDATE job_counts c SET n = c.n + s.n FROM s WHERE c.state = s.state`;

/**
 * Folds the count deltas into the base counts, unless another session is
 * doing so (then it is skipped, not waited for). Exact: the deltas a
 * statement deletes are the ones it adds, in one commit.
 */
function foldCounts(pg: PgDb, tx: Sql): Promise<Row[]> {
  return q(tx, FOLD_COUNTS, [LOCK_CLASS, hash32(`${pg.url.schema}:${LOCK_FOLD_COUNTS}`)]);
}

const REQUESTS = `SELECT (SELECT stop_requested FROM workers WHERE id = $1) AS stop_requested,
    ARRAY(SELECT id FROM jobs WHERE state = 'processing' AND worker_id = $1
          AND cancel_requested ORDER BY id) AS cancelled`;

/** A worker's stop request and the cancel requests of its running jobs, without a heartbeat. */
export function workerRequestsGet(pg: PgDb, params: { id: string }): Promise<WorkerRequests> {
  return call(pg, async () => {
    const [row] = await q(pg.sql, REQUESTS, [params.id]);
    return {
      stopRequested: (row!.stop_requested as "graceful" | "force" | null) ?? null,
      cancelRequested: row!.cancelled as string[],
    };
  });
}

/** Removes a worker's row. */
export function workerRemove(pg: PgDb, params: { id: string }): Promise<void> {
  return call(pg, async () => {
    await q(pg.sql, "DELETE FROM workers WHERE id = $1", [params.id]);
  });
}

function workersSql(where: string): string {
  return `SELECT w.*, ARRAY(SELECT id FROM jobs
      WHERE state = 'processing' AND worker_id = w.id ORDER BY id) AS current_jobs
    FROM workers w ${where} ORDER BY started_at, id`;
}

const WORKERS_ALL = workersSql("");
const WORKERS_LIVE = workersSql("WHERE heartbeat_at >= $1");

async function workers(
  pg: PgDb,
  sql: string,
  args: unknown[],
  lateBefore: number,
): Promise<WorkerInfo[]> {
  const rows = await q(pg.sql, sql, args);
  return rows.map((row) => toWorker(row, row.current_jobs as string[], lateBefore));
}

/** The workers whose heartbeat is not older than `staleBefore`, with their running jobs. */
export function workerList(
  pg: PgDb,
  params: { staleBefore: number; lateBefore?: number },
): Promise<WorkerInfo[]> {
  return call(
    pg,
    () => workers(pg, WORKERS_LIVE, [params.staleBefore], params.lateBefore ?? -Infinity),
  );
}

/** Every registered worker, stale ones too. */
export function workerListAll(pg: PgDb): Promise<WorkerInfo[]> {
  return call(pg, () => workers(pg, WORKERS_ALL, [], -Infinity));
}

// Both the new end and the test of the old one by the server's clock.
const TAKE_TURN = `WITH clock AS MATERIALIZED (SELECT ${nowSql("$3")} AS now)
  INSERT INTO turns (name, holder, until)
    SELECT $4, $1, now + $2::bigint FROM clock
  ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
  WHERE turns.holder = excluded.holder OR turns.until < (SELECT now FROM clock)
  RETURNING holder`;

/** Takes (or keeps) the named turn until `now + ttlMs`, unless another holder's is in force. */
export function turnTake(
  pg: PgDb,
  params: { name?: string | undefined; holder: string; now?: number | undefined; ttlMs: number },
): Promise<boolean> {
  return call(pg, async () => {
    const rows = await q(pg.sql, TAKE_TURN, [
      params.holder,
      params.ttlMs,
      params.now ?? null,
      params.name ?? "rescuer",
    ]);
    return rows.length > 0;
  });
}

function requestStopSql(which: string): string {
  return `WITH asked AS (
      UPDATE workers SET stop_requested = $1
      WHERE ${which} RETURNING 1)
    SELECT count(*) AS n FROM asked`;
}

const REQUEST_STOP_ALL = requestStopSql("true");
const REQUEST_STOP = requestStopSql("id = ANY($2::text[])");

/** Asks the workers of `ids` (or all) to stop; wakes them. Returns how many were asked. */
export function workerRequestStop(
  pg: PgDb,
  params: { ids?: string[]; mode: "graceful" | "force" },
): Promise<number> {
  return call(pg, () =>
    begin(pg, async (tx) => {
      const rows = params.ids
        ? await q(tx, REQUEST_STOP, [params.mode, params.ids])
        : await q(tx, REQUEST_STOP_ALL, [params.mode]);
      const n = rows[0]!.n as number;
      if (n > 0) await notify(pg, tx);
      return n;
    }));
}
