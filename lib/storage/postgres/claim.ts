/**
 * Claims on PostgreSQL: taking due jobs for a worker's free slots in one
 * statement (`FOR UPDATE SKIP LOCKED`), limited queues under an advisory
 * lock each, and the reads that time the next claim and find stranded jobs.
 */
import { type Row, toClaimed, toJob } from "../_rows.ts";
import type { ClaimedJob, ClaimParams, StrandedJob } from "../storage.ts";
import {
  begin,
  call,
  earliest,
  hash32,
  LOCK_CLASS,
  LOCK_QUEUE,
  nowSql,
  type PgDb,
  q,
  type Sql,
} from "./connection.ts";
import { JOB_COLUMNS } from "./jobs.ts";

/** Claims due jobs for a worker in one statement; rows other claimers hold are skipped. */
export function jobClaim(pg: PgDb, params: ClaimParams): Promise<ClaimedJob[]> {
  if (params.limit <= 0) return Promise.resolve([]);
  // One statement, no explicit transaction: pick (skipping rows other
  // claimers hold), update, and start the runs, in one round trip. The
  // queue filter is its own statement text, so each plan uses the index.
  // Paused and limited queues are left out here (an initplan over the
  // small queues table); the statement also returns the limited queues,
  // which are claimed from under their lock only when some exist.
  return call(
    pg,
    async () => toClaimed(await claimRest(pg, params, await claimOn(pg.sql, params))),
  );
}

/**
 * The rows of the claim's main statement, plus what the limited queues
 * it named give under their locks (a transaction of their own) while
 * room is left.
 */
export async function claimRest(
  pg: PgDb,
  params: ClaimParams,
  main: { claimed: Row[]; limited: string[] },
): Promise<Row[]> {
  const { claimed, limited } = main;
  const room = params.limit - claimed.length;
  if (limited.length === 0 || room <= 0) return claimed;
  const more = await begin(pg, (tx) => claimLimited(pg, tx, { ...params, limit: room }, limited));
  return [...claimed, ...more];
}

/** The claimed jobs' columns, qualified with `j.` for the UPDATE's RETURNING. */
const CLAIMED_COLUMNS = `j.${JOB_COLUMNS.replace(/,\s*/g, ", j.")}`;

/**
 * The claim's clock: the server's now (or a test's `$3`), read once, for
 * the due test, the lease and the stamps (DESIGN.md, "Fencing").
 */
const CLOCK = `clock AS MATERIALIZED (SELECT ${nowSql("$3")} AS now)`;

function claimSql(queueFilter: string): string {
  return `WITH ${CLOCK}, held AS MATERIALIZED (
      SELECT name, paused FROM queues WHERE paused OR concurrency > 0),
    picked AS MATERIALIZED (
      SELECT seq FROM jobs
      WHERE state IN ('pending', 'failed') AND next_run_at <= (SELECT now FROM clock) ${queueFilter}
        AND queue <> ALL (ARRAY(SELECT name FROM held))
      ORDER BY priority DESC, next_run_at, seq
      LIMIT $4
      FOR UPDATE SKIP LOCKED),
    claimed AS (
      UPDATE jobs j SET state = 'processing', attempts = j.attempts + 1, worker_id = $1,
        lease_expires_at = clock.now + $2::bigint, updated_at = clock.now, cancel_requested = false
      FROM picked, clock WHERE j.seq = picked.seq
      RETURNING ${CLAIMED_COLUMNS}),
    started AS (
      INSERT INTO runs (job_id, attempt, worker_id, started_at)
      SELECT id, attempts, $1, updated_at FROM claimed ORDER BY seq)
    SELECT l.limited_queues, c.*
    FROM (SELECT array_agg(name) AS limited_queues FROM held WHERE NOT paused) l
    LEFT JOIN claimed c ON true
    ORDER BY c.priority DESC, c.next_run_at, c.seq`;
}

/** The claim's main statement, from any queue. */
const CLAIM = claimSql("");
/** The claim's main statement, from the queues in `$5`. */
const CLAIM_FROM_QUEUES = claimSql("AND queue = ANY($5::text[])");

/**
 * The claim's main statement on `db` (a connection or a transaction):
 * the claimed rows, and the limited queues this worker serves (claimed
 * from by {@linkcode claimLimited} when room is left).
 */
export async function claimOn(
  db: Sql,
  params: ClaimParams,
): Promise<{ claimed: Row[]; limited: string[] }> {
  const args: unknown[] = [params.workerId, params.leaseMs, params.now ?? null, params.limit];
  if (params.queues) args.push(params.queues);
  const rows = await q(db, params.queues ? CLAIM_FROM_QUEUES : CLAIM, args);
  const limited = ((rows[0]?.limited_queues as string[] | null | undefined) ?? [])
    .filter((name) => params.queues === null || params.queues.includes(name));
  return { claimed: rows.filter((row) => row.id !== null), limited };
}

const LOCK_QUEUES = "SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int[]) AS k ORDER BY k";

const CLAIM_LIMITED = `WITH ${CLOCK}, lim AS (
    SELECT q.name, least($4::int, q.concurrency - (
      SELECT count(*) FROM jobs r WHERE r.state = 'processing' AND r.queue = q.name))::int
      AS room
    FROM queues q WHERE q.name = ANY($5::text[]) AND NOT q.paused AND q.concurrency > 0),
  picked AS MATERIALIZED (
    SELECT x.seq FROM lim CROSS JOIN LATERAL (
      SELECT seq, priority, next_run_at FROM jobs
      WHERE state IN ('pending', 'failed') AND next_run_at <= (SELECT now FROM clock)
        AND queue = lim.name
      ORDER BY priority DESC, next_run_at, seq
      LIMIT greatest(lim.room, 0)
      FOR UPDATE SKIP LOCKED) x
    ORDER BY x.priority DESC, x.next_run_at, x.seq
    LIMIT $4),
  claimed AS (
    UPDATE jobs j SET state = 'processing', attempts = j.attempts + 1, worker_id = $1,
      lease_expires_at = clock.now + $2::bigint, updated_at = clock.now, cancel_requested = false
    FROM picked, clock WHERE j.seq = picked.seq
    RETURNING ${CLAIMED_COLUMNS}),
  started AS (
    INSERT INTO runs (job_id, attempt, worker_id, started_at)
    SELECT id, attempts, $1, updated_at FROM claimed ORDER BY seq)
  SELECT * FROM claimed`;

/**
 * Claims from limited queues: under an advisory lock per queue (taken in
 * one order by everyone, so no deadlock), counts each queue's running
 * jobs and takes at most the room left, in transaction `tx` (the locks
 * last until it ends). Claims of other queues never take these locks.
 */
async function claimLimited(
  pg: PgDb,
  tx: Sql,
  params: { workerId: string; limit: number; now?: number | undefined; leaseMs: number },
  queues: string[],
): Promise<Row[]> {
  const keys = [...new Set(queues.map((q) => hash32(`${pg.url.schema}:${LOCK_QUEUE}:${q}`)))]
    .sort((a, b) => a - b);
  await q(tx, LOCK_QUEUES, [LOCK_CLASS, keys]);
  return await q(tx, CLAIM_LIMITED, [
    params.workerId,
    params.leaseMs,
    params.now ?? null,
    params.limit,
    queues,
  ]);
}

const NEXT_DUE = `SELECT next_run_at AS at FROM jobs WHERE state IN ('pending', 'failed')
  ORDER BY next_run_at LIMIT 1`;

const NEXT_DUE_IN_QUEUES = `SELECT next_run_at AS at FROM jobs
  WHERE state IN ('pending', 'failed') AND queue = ANY($1::text[])
  ORDER BY next_run_at LIMIT 1`;

/** When the next waiting job (of `queues`, or any) is due, or `null`. */
export function jobNextDueAt(
  pg: PgDb,
  params: { queues: string[] | null },
): Promise<number | null> {
  return call(pg, async () => {
    const [row] = params.queues
      ? await q(pg.sql, NEXT_DUE_IN_QUEUES, [params.queues])
      : await q(pg.sql, NEXT_DUE);
    return (row?.at as number | null | undefined) ?? null;
  });
}

/** When the next scheduled retry is due, or `null`. */
export function jobNextRetryAt(pg: PgDb): Promise<number | null> {
  return earliest(pg, "SELECT min(next_run_at) AS at FROM jobs WHERE state = 'failed'");
}

const STRANDED = `SELECT j.*, r.started_at AS run_started_at, r.host AS run_host,
    r.pgid AS run_pgid, r.proc_start AS run_proc_start
  FROM jobs j
  LEFT JOIN LATERAL (
    SELECT started_at, host, pgid, proc_start FROM runs
    WHERE job_id = j.id AND attempt = j.attempts ORDER BY seq DESC LIMIT 1) r ON true
  WHERE j.state = 'processing'
    AND (($3::boolean AND j.lease_expires_at < ${nowSql("$1")}) OR j.worker_id = ANY($2::text[]))
  ORDER BY j.seq`;

/**
 * Running jobs whose lease expired by the server's clock (unless `leases`
 * is false) or whose worker is among `workerIds`, with their last run.
 */
export function jobListStranded(
  pg: PgDb,
  params: { now?: number | undefined; workerIds: string[]; leases?: boolean | undefined },
): Promise<StrandedJob[]> {
  return call(pg, async () => {
    const rows = await q(pg.sql, STRANDED, [
      params.now ?? null,
      params.workerIds,
      params.leases ?? true,
    ]);
    return rows.map((row) => ({
      ...toJob(row),
      attempt: row.attempts as number,
      started_at: (row.run_started_at as number | null) ?? (row.updated_at as number),
      host: row.run_host as string | null,
      pgid: row.run_pgid as number | null,
      proc_start: row.run_proc_start as string | null,
    }));
  });
}
