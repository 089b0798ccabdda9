/**
 * Claims on SQLite: taking due jobs for a worker's free slots in one
 * statement per batch, in the claim order (priority, then due time, then
 * insertion), with paused and limited queues held back; when the next job
 * is due; and the stranded jobs the rescuer recovers. Each export but
 * {@linkcode claim} is the `Storage` method of its name (documented there).
 * Its reads name their partial index (`INDEXED BY`), as `SqliteStorage`
 * explains.
 */
import type { SQLInputValue } from "node:sqlite";
import { type Row, toClaimed, toJob } from "../_rows.ts";
import type { ClaimedJob, ClaimParams, StrandedJob } from "../storage.ts";
import { earliest, promise, type SqliteDb } from "./connection.ts";

export function jobClaim(db: SqliteDb, params: ClaimParams): Promise<ClaimedJob[]> {
  return promise(() => db.write(() => claim(db, params), null));
}

/** The claim, inside a write transaction. */
export function claim(db: SqliteDb, claimParams: ClaimParams): ClaimedJob[] {
  // One host: its own clock is the store's (a test may fix it).
  const now = claimParams.now ?? db.now();
  const params = { ...claimParams, now };
  const { workerId } = params;
  // Paused or limited queues, read inside the claim's write lock, so
  // a limit holds across every process. With none (the usual case)
  // the claim is the one plain statement.
  const controls = db.all(
    "SELECT name, paused, concurrency FROM queues WHERE paused = 1 OR concurrency > 0",
  );
  let rows: Row[];
  if (controls.length === 0) {
    rows = claimWhere(db, params, "", [], params.limit);
  } else {
    const held = JSON.stringify(controls.map((c) => c.name));
    rows = claimWhere(
      db,
      params,
      "AND queue NOT IN (SELECT value FROM json_each(?))",
      [held],
      params.limit,
    );
    for (const control of controls) {
      const name = control.name as string;
      if (control.paused || (params.queues && !params.queues.includes(name))) continue;
      const running = db.get(
        "SELECT count(*) AS n FROM jobs WHERE state = 'processing' AND queue = ?",
        name,
      )!.n as number;
      const room = Math.min(
        params.limit - rows.length,
        (control.concurrency as number) - running,
      );
      if (room > 0) rows.push(...claimWhere(db, params, "AND queue = ?", [name], room));
    }
  }
  const insertRun = db.stmt(
    "INSERT INTO runs (job_id, attempt, worker_id, started_at) VALUES (?, ?, ?, ?)",
  );
  for (const row of rows) {
    insertRun.run(row.id as string, row.attempts as number, workerId, now);
  }
  return toClaimed(rows);
}

/** The claim's one statement: up to `limit` due jobs, also matching `filter`. */
function claimWhere(
  db: SqliteDb,
  params: { workerId: string; queues: string[] | null; now: number; leaseMs: number },
  filter: string,
  filterArgs: SQLInputValue[],
  limit: number,
): Row[] {
  const { now } = params;
  const queueFilter = params.queues ? "AND queue IN (SELECT value FROM json_each(?))" : "";
  const args: SQLInputValue[] = [params.workerId, now + params.leaseMs, now, now];
  if (params.queues) args.push(JSON.stringify(params.queues));
  args.push(...filterArgs, limit);
  return db.all(
    `UPDATE jobs SET state = 'processing', attempts = attempts + 1, worker_id = ?,
       lease_expires_at = ?, updated_at = ?, cancel_requested = 0
     WHERE seq IN (
       SELECT seq FROM jobs INDEXED BY jobs_due
       WHERE state IN ('pending', 'failed') AND next_run_at <= ? ${queueFilter} ${filter}
       ORDER BY priority DESC, next_run_at, seq LIMIT ?)
     RETURNING *`,
    ...args,
  );
}

export function jobNextDueAt(
  db: SqliteDb,
  params: { queues: string[] | null },
): Promise<number | null> {
  return promise(() =>
    db.read(() => {
      const row = params.queues
        ? db.get(
          `SELECT next_run_at AS at FROM jobs INDEXED BY jobs_next_due
         WHERE state IN ('pending', 'failed') AND queue IN (SELECT value FROM json_each(?))
         ORDER BY next_run_at LIMIT 1`,
          JSON.stringify(params.queues),
        )
        : db.get(
          `SELECT next_run_at AS at FROM jobs INDEXED BY jobs_next_due
         WHERE state IN ('pending', 'failed') ORDER BY next_run_at LIMIT 1`,
        );
      return (row?.at as number | null | undefined) ?? null;
    })
  );
}

export function jobNextRetryAt(db: SqliteDb): Promise<number | null> {
  return earliest(
    db,
    "SELECT min(next_run_at) AS at FROM jobs INDEXED BY jobs_retry_due WHERE state = 'failed'",
  );
}

export function jobListStranded(
  db: SqliteDb,
  params: { now?: number | undefined; workerIds: string[]; leases?: boolean | undefined },
): Promise<StrandedJob[]> {
  const now = params.leases === false ? Number.MIN_SAFE_INTEGER : params.now ?? db.now();
  return promise(() =>
    db.read(() =>
      db.all(
        `SELECT j.*, r.started_at AS run_started_at, r.host AS run_host, r.pgid AS run_pgid,
         r.proc_start AS run_proc_start
       FROM jobs j
       LEFT JOIN runs r ON r.seq = (
         SELECT max(seq) FROM runs WHERE job_id = j.id AND attempt = j.attempts)
       WHERE j.state = 'processing'
         AND (j.lease_expires_at < ? OR j.worker_id IN (SELECT value FROM json_each(?)))`,
        now,
        JSON.stringify(params.workerIds),
      ).map((row) => ({
        ...toJob(row),
        attempt: row.attempts as number,
        started_at: (row.run_started_at as number | null) ?? (row.updated_at as number),
        host: row.run_host as string | null,
        pgid: row.run_pgid as number | null,
        proc_start: row.run_proc_start as string | null,
      }))
    )
  );
}
