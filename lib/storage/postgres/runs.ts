/**
 * Runs on PostgreSQL: what workers record about attempts (starts, live
 * output, finishes), each write guarded on the attempt still running, and
 * the reads of output and throughput.
 */
import type { RunOutcome, RunOutput } from "../../job.ts";
import { text, toClaimed } from "../_rows.ts";
import type {
  ClaimParams,
  FinishedCount,
  RecordResult,
  RunFinish,
  RunOutputUpdate,
  RunStart,
} from "../storage.ts";
import { claimOn, claimRest } from "./claim.ts";
import { begin, call, nowSql, type PgDb, q, type Sql } from "./connection.ts";

function byId<T extends { id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const RECORD_STARTS = `UPDATE runs r SET host = s.host, pgid = s.pgid, proc_start = s.proc_start
  FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[])
    AS s(host, pgid, proc_start, job_id, attempt, worker_id)
  WHERE r.job_id = s.job_id AND r.attempt = s.attempt AND r.worker_id = s.worker_id
    AND r.finished_at IS NULL`;

/** One statement for every start: it touches only runs rows, so it needs no transaction of its own. */
function recordStarts(db: Sql, starts: RunStart[]): Promise<unknown> {
  if (starts.length === 0) return Promise.resolve();
  const sorted = [...starts].sort(byId);
  return q(db, RECORD_STARTS, [
    sorted.map((s) => s.host),
    sorted.map((s) => s.pgid),
    sorted.map((s) => s.procStart),
    sorted.map((s) => s.id),
    sorted.map((s) => s.attempt),
    sorted.map((s) => s.workerId),
  ]);
}

const RECORD_OUTPUT = `INSERT INTO run_outputs (job_id, attempt, stdout, stderr)
  SELECT $1, $2, $3, $4
  WHERE EXISTS (
    SELECT 1 FROM runs WHERE job_id = $1 AND attempt = $2 AND worker_id = $5
      AND finished_at IS NULL)
  ON CONFLICT (job_id, attempt)
    DO UPDATE SET stdout = excluded.stdout, stderr = excluded.stderr`;

/** Snapshots go to the unlogged `run_outputs`, never rewriting the runs row. */
function recordOutputs(tx: Sql, updates: RunOutputUpdate[]): Promise<unknown> {
  return Promise.all(
    [...updates].sort(byId).map((u) =>
      q(tx, RECORD_OUTPUT, [u.id, u.attempt, u.stdout, u.stderr, u.workerId])
    ),
  );
}

const RECORD_FINISH = `WITH job AS (
    UPDATE jobs SET state = $1, next_run_at = $2, updated_at = $3, last_error = $4,
      lease_expires_at = NULL, cancel_requested = false, attempts = attempts - $5
    WHERE id = $6 AND state = 'processing' AND worker_id = $7 AND attempts = $8
      -- A rescue by lease: only while the lease has expired by the server's clock.
      AND (NOT $17::boolean OR lease_expires_at < ${nowSql("$18")})
    RETURNING id),
  live AS (
    DELETE FROM run_outputs WHERE job_id = $6 AND attempt = $8 AND EXISTS (SELECT 1 FROM job)
    RETURNING stdout, stderr),
  run AS (
    UPDATE runs SET finished_at = $3, outcome = $9, exit_code = $10, signal = $11,
      error = $12,
      stdout = coalesce($13, (SELECT stdout FROM live), stdout),
      stderr = coalesce($14, (SELECT stderr FROM live), stderr)
    WHERE seq = (SELECT max(seq) FROM runs WHERE job_id = $6 AND attempt = $8)
      AND EXISTS (SELECT 1 FROM job)),
  -- Only a job that can run again is news to idle workers. Repeats in
  -- one transaction are delivered once, so each finish may send it.
  wake AS (SELECT pg_notify($15, '') FROM job WHERE $1 IN ('pending', 'failed')),
  -- A job's end is news to waiters and live views only: their own channel.
  ended AS (SELECT pg_notify($16, '') FROM job WHERE $1 NOT IN ('pending', 'failed'))
  SELECT id, (SELECT count(*) FROM wake) + (SELECT count(*) FROM ended) AS woke FROM job`;

/** Each finish in one statement, applied only while its attempt still runs; returns the applied ids. */
async function recordFinishes(
  pg: PgDb,
  db: Sql,
  finishes: RunFinish[],
  now?: number,
): Promise<string[]> {
  const sorted = [...finishes].sort(byId);
  const results = await Promise.all(sorted.map((f) =>
    q(db, RECORD_FINISH, [
      f.state,
      f.nextRunAt,
      f.finishedAt,
      f.outcome === "succeeded" ? null : f.error,
      f.uncountAttempt ? 1 : 0,
      f.id,
      f.workerId,
      f.attempt,
      f.outcome,
      f.exitCode,
      f.signal,
      f.error,
      f.stdout,
      f.stderr,
      pg.channel,
      pg.doneChannel,
      f.ifLeaseExpired ?? false,
      now ?? null,
    ])
  ));
  const applied = new Set<string>();
  sorted.forEach((f, i) => {
    if (results[i]!.length > 0) applied.add(f.id);
  });
  return finishes.filter((f) => applied.has(f.id)).map((f) => f.id);
}

/** Records where and as what the attempts' processes started (guarded on the run still open). */
export function runStartMany(pg: PgDb, params: { starts: RunStart[] }): Promise<void> {
  if (params.starts.length === 0) return Promise.resolve();
  return call(pg, async () => {
    await recordStarts(pg.sql, params.starts);
  });
}

/** Replaces the live output of running attempts. */
export function runOutputUpdateMany(
  pg: PgDb,
  params: { updates: RunOutputUpdate[] },
): Promise<void> {
  if (params.updates.length === 0) return Promise.resolve();
  return call(pg, async () => {
    await begin(pg, (tx) => recordOutputs(tx, params.updates));
  });
}

/** Finishes attempts, atomically, each only while it is still running; returns the applied ids. */
export function runFinishMany(
  pg: PgDb,
  params: { finishes: RunFinish[]; now?: number | undefined },
): Promise<string[]> {
  if (params.finishes.length === 0) return Promise.resolve([]);
  // One finish is one statement: atomic without BEGIN and COMMIT round trips.
  if (params.finishes.length === 1) {
    return call(pg, () => recordFinishes(pg, pg.sql, params.finishes, params.now));
  }
  return call(pg, () => begin(pg, (tx) => recordFinishes(pg, tx, params.finishes, params.now)));
}

/** Starts, output and finishes, and optionally the next claim, in one round trip. */
export async function runRecordMany(pg: PgDb, params: {
  starts: RunStart[];
  outputs: RunOutputUpdate[];
  finishes: RunFinish[];
  claim?: ClaimParams | undefined;
}): Promise<RecordResult> {
  const { starts, outputs, finishes, claim } = params;
  if (!claim || claim.limit <= 0) {
    return { applied: await record(pg, starts, outputs, finishes), claimed: [] };
  }
  return await call(pg, async () => {
    // One round trip: BEGIN, the records, the claim and COMMIT go out
    // together on one connection (postgres.js pipelines its queries) and
    // run in that order, all or nothing (after a failed statement the
    // server turns the COMMIT into a rollback).
    const db = await pg.sql.reserve();
    const conn = db as unknown as Sql;
    // Made in this order, so sent in this order (q sends at once).
    const opened = q(conn, "BEGIN");
    const started = recordStarts(conn, starts);
    const output = recordOutputs(conn, outputs);
    const finished = finishes.length === 0
      ? Promise.resolve([])
      : recordFinishes(pg, conn, finishes);
    const main = claimOn(conn, claim);
    const commit = q(conn, "COMMIT");
    try {
      const settled = await Promise.allSettled([opened, started, output, finished, main, commit]);
      const failed = settled.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    } finally {
      db.release();
    }
    // Limited queues (rare) come after, in a transaction of their own:
    // the records stand whatever it meets.
    const first = await main;
    const claimed = await claimRest(pg, claim, first).catch(() => first.claimed);
    return { applied: await finished, claimed: toClaimed(claimed) };
  });
}

function record(
  pg: PgDb,
  starts: RunStart[],
  outputs: RunOutputUpdate[],
  finishes: RunFinish[],
): Promise<string[]> {
  if (starts.length + outputs.length + finishes.length === 0) return Promise.resolve([]);
  if (outputs.length === 0 && finishes.length <= 1) {
    // The common flush of a busy worker: a few starts and at most one
    // finish, each one statement and atomic on its own, without BEGIN
    // and COMMIT round trips. (Starts and a finish need not commit
    // together: each is guarded on its own.)
    return call(pg, async () => {
      await recordStarts(pg.sql, starts);
      return finishes.length === 0 ? [] : await recordFinishes(pg, pg.sql, finishes);
    });
  }
  return call(pg, () =>
    begin(pg, async (tx) => {
      await recordStarts(tx, starts);
      await recordOutputs(tx, outputs);
      return await recordFinishes(pg, tx, finishes);
    }));
}

/**
 * The output of a job's run (by number), attempt, or latest run; a running
 * attempt's is its live snapshot. The statement is built from the choice.
 */
export function runOutputGet(
  pg: PgDb,
  params: { id: string; attempt?: number | undefined; run?: number | undefined },
): Promise<RunOutput | null> {
  return call(pg, async () => {
    const pick = params.run !== undefined
      ? { where: "job_id = $1", order: "seq", offset: params.run - 1, args: [params.id] }
      : params.attempt === undefined
      ? { where: "job_id = $1", order: "seq DESC", offset: 0, args: [params.id] }
      : {
        where: "job_id = $1 AND attempt = $2",
        order: "seq DESC",
        offset: 0,
        args: [params.id, params.attempt],
      };
    if (pick.offset < 0) return null;
    // A running attempt's output is its live snapshot.
    const [row] = await q(
      pg.sql,
      `SELECT r.attempt,
         CASE WHEN r.finished_at IS NULL THEN coalesce(o.stdout, r.stdout) ELSE r.stdout END
           AS stdout,
         CASE WHEN r.finished_at IS NULL THEN coalesce(o.stderr, r.stderr) ELSE r.stderr END
           AS stderr
       FROM (SELECT attempt, finished_at, stdout, stderr FROM runs WHERE ${pick.where}
             ORDER BY ${pick.order} LIMIT 1 OFFSET ${pick.offset}) r
       LEFT JOIN run_outputs o ON r.finished_at IS NULL AND o.job_id = $1
         AND o.attempt = r.attempt`,
      pick.args,
    );
    if (!row) return null;
    return {
      id: params.id,
      attempt: row.attempt as number,
      stdout: text(row.stdout),
      stderr: text(row.stderr),
    };
  });
}

const FINISHED_COUNTS = `SELECT (finished_at - $1::bigint) / $2::bigint AS bucket,
    count(*) FILTER (WHERE outcome = 'succeeded') AS completed,
    count(*) FILTER (WHERE outcome <> 'succeeded') AS failed
  FROM runs WHERE finished_at IS NOT NULL AND finished_at >= $1::bigint
  GROUP BY bucket`;

/** Finished runs since `since` per bucket of `bucketMs`, succeeded and not. */
export function runFinishedCounts(
  pg: PgDb,
  params: { since: number; bucketMs: number },
): Promise<FinishedCount[]> {
  return call(pg, async () => {
    // finished_at >= since, so integer division is the floor.
    const rows = await q(pg.sql, FINISHED_COUNTS, [
      params.since,
      Math.max(1, Math.round(params.bucketMs)),
    ]);
    return rows.map((row) => ({
      bucket: row.bucket as number,
      completed: row.completed as number,
      failed: row.failed as number,
    }));
  });
}

const TOTALS = `SELECT outcome, count(*) AS count, sum(finished_at - started_at) AS duration_ms_sum
  FROM runs WHERE finished_at IS NOT NULL GROUP BY outcome ORDER BY outcome`;

/** Finished runs per outcome, with their summed durations. */
export function runTotals(
  pg: PgDb,
): Promise<{ outcome: RunOutcome; count: number; duration_ms_sum: number }[]> {
  return call(pg, async () => {
    const rows = await q(pg.sql, TOTALS);
    return rows.map((row) => ({
      outcome: row.outcome as RunOutcome,
      count: row.count as number,
      duration_ms_sum: (row.duration_ms_sum as number | null) ?? 0,
    }));
  });
}
