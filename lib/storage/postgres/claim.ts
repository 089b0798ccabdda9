/**
 * Claims on PostgreSQL: taking due jobs for a worker's free slots in one
 * statement (`FOR UPDATE SKIP LOCKED`), limited queues under an advisory
 * lock each, and the reads that time the next claim and find stranded jobs.
 */
import { EXPIRED_ERROR } from "../../job.ts";
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
      SELECT name, paused FROM queues
      WHERE paused OR concurrency > 0 OR rate_limit > 0 OR group_concurrency > 0),
    expired AS (
      UPDATE jobs SET state = 'cancelled', next_run_at = NULL,
        updated_at = (SELECT now FROM clock), last_error = '${EXPIRED_ERROR}'
      WHERE seq IN (SELECT seq FROM jobs
        WHERE expires_at IS NOT NULL AND state IN ('pending', 'blocked', 'held')
          AND expires_at <= (SELECT now FROM clock) AND attempts = 0
        ORDER BY seq LIMIT 500 FOR UPDATE SKIP LOCKED)),
    picked AS MATERIALIZED (
      SELECT seq FROM jobs
      WHERE state IN ('pending', 'failed') AND next_run_at <= (SELECT now FROM clock) ${queueFilter}
        AND (expires_at IS NULL OR expires_at > (SELECT now FROM clock) OR attempts > 0)
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

/**
 * Each limited queue's room under its lock: the concurrency left, and the
 * starts left in its rate window (older starts are deleted first, by
 * {@linkcode PRUNE_STARTS}).
 */
const LIMITS = `SELECT q.name, q.concurrency, q.rate_limit, q.group_concurrency,
    CASE WHEN q.concurrency > 0 THEN q.concurrency - (
      SELECT count(*) FROM jobs r WHERE r.state = 'processing' AND r.queue = q.name)
    END::int AS running_room,
    CASE WHEN q.rate_limit > 0 THEN q.rate_limit - (
      SELECT count(*) FROM queue_starts s WHERE s.queue = q.name)
    END::int AS rate_room
  FROM queues q WHERE q.name = ANY($1::text[]) AND NOT q.paused
    AND (q.concurrency > 0 OR q.rate_limit > 0 OR q.group_concurrency > 0)
  ORDER BY q.name`;

const PRUNE_STARTS = `DELETE FROM queue_starts s USING queues q
  WHERE q.name = ANY($1::text[]) AND q.rate_limit > 0 AND s.queue = q.name
    AND s.at <= $2::bigint - q.rate_period_ms`;

const RECORD_STARTS = `INSERT INTO queue_starts (queue, at)
  SELECT $1, $2::bigint FROM generate_series(1, $3::int)`;

/** The update and run rows of a claim of the rows `picked` names (a CTE before it). */
const CLAIM_PICKED = `claimed AS (
    UPDATE jobs j SET state = 'processing', attempts = j.attempts + 1, worker_id = $1,
      lease_expires_at = clock.now + $2::bigint, updated_at = clock.now, cancel_requested = false
    FROM picked, clock WHERE j.seq = picked.seq
    RETURNING ${CLAIMED_COLUMNS}),
  started AS (
    INSERT INTO runs (job_id, attempt, worker_id, started_at)
    SELECT id, attempts, $1, updated_at FROM claimed ORDER BY seq)
  SELECT * FROM claimed`;

/** Up to `$4` due jobs of queue `$6` (its jobs without a group only, with `$7`). */
const CLAIM_QUEUE = `WITH ${CLOCK}, picked AS MATERIALIZED (
    SELECT seq FROM jobs
    WHERE state IN ('pending', 'failed') AND next_run_at <= $5::bigint AND queue = $6
      AND (NOT $7::boolean OR grp IS NULL)
      AND (expires_at IS NULL OR expires_at > $5::bigint OR attempts > 0)
    ORDER BY priority DESC, next_run_at, seq
    LIMIT $4
    FOR UPDATE SKIP LOCKED),
  ${CLAIM_PICKED}`;

/**
 * Up to `$4` jobs of queue `$6` under group limit `$7`, read in the claim
 * order (`jobs_group_order`): a window of `$8` due grouped jobs from place
 * `$9`, each group's running jobs (`jobs_group_running`: at most as many
 * groups as running jobs), and of each group with room its best jobs up
 * to that room, best first. So groups at their limit cost only their rows
 * in the window, and the number of groups costs nothing. Returns the
 * window's size beside the claimed rows, so the caller knows whether more
 * wait past it (DESIGN.md "Flow control"). Only the rows taken are locked,
 * skipping any a cancel holds: this queue's claims are serialized by its
 * advisory lock. The due test is written `IS TRUE` so that it is no index
 * condition: a planner without statistics (a fresh table) otherwise walks
 * `jobs_next_due` over every queue and sorts.
 */
const CLAIM_GROUP_ORDER = `WITH ${CLOCK}, running AS MATERIALIZED (
    SELECT grp, count(*)::int AS n FROM jobs
    WHERE state = 'processing' AND grp IS NOT NULL AND queue = $6 GROUP BY grp),
  w AS MATERIALIZED (
    SELECT seq, grp, priority, next_run_at, expires_at, attempts FROM jobs
    WHERE state IN ('pending', 'failed') AND grp IS NOT NULL AND queue = $6
      AND (next_run_at <= $5::bigint) IS TRUE
    ORDER BY priority DESC, next_run_at, seq
    LIMIT $8 OFFSET $9),
  best AS MATERIALIZED (
    SELECT seq FROM (
      SELECT w.seq, w.priority, w.next_run_at, coalesce(r.n, 0) + row_number() OVER (
          PARTITION BY w.grp ORDER BY w.priority DESC, w.next_run_at, w.seq) AS k
      FROM w LEFT JOIN running r ON r.grp = w.grp
      WHERE coalesce(r.n, 0) < $7
        AND (w.expires_at IS NULL OR w.expires_at > $5::bigint OR w.attempts > 0)) x
    WHERE k <= $7
    ORDER BY priority DESC, next_run_at, seq
    LIMIT $4),
  picked AS MATERIALIZED (
    SELECT seq FROM jobs
    WHERE seq IN (SELECT seq FROM best) AND state IN ('pending', 'failed')
    FOR UPDATE SKIP LOCKED),
  ${CLAIM_PICKED.replace("SELECT * FROM claimed", "")}
  SELECT (SELECT count(*) FROM w)::int AS window_rows, c.*
  FROM (SELECT 1) one LEFT JOIN claimed c ON true`;

/**
 * The rows a group-limited claim reads in the claim order before it falls
 * back to {@linkcode CLAIM_GROUPED} (beyond the room it fills): waiting
 * jobs of full groups that sort ahead are passed over one by one, so a
 * deep backlog of a full group at the head would otherwise cost each claim
 * its depth (DESIGN.md "Flow control").
 */
const GROUP_SCAN_BUDGET = 500;

/**
 * The fallback: up to `$4` jobs of queue `$6` under group limit `$7` from
 * the distinct groups of its waiting jobs, found by a skip scan of
 * `jobs_group_due` (one probe per group, however deep its backlog), taking
 * from each group that has room its best due jobs up to that room
 * (`LATERAL … LIMIT`), best first. Only the `$4` rows taken are locked.
 * The `LATERAL` names its group by row comparisons, which only an index
 * that starts (queue, grp) can take as its condition: with `queue = $6`
 * a planner without statistics may walk `jobs_group_order` instead and
 * filter each group out of the whole queue.
 */
const CLAIM_GROUPED = `WITH RECURSIVE ${CLOCK}, g(grp) AS (
    (SELECT grp FROM jobs
     WHERE state IN ('pending', 'failed') AND grp IS NOT NULL AND queue = $6
     ORDER BY grp LIMIT 1)
    UNION ALL
    SELECT (SELECT grp FROM jobs
            WHERE state IN ('pending', 'failed') AND grp IS NOT NULL AND queue = $6
              AND grp > g.grp
            ORDER BY grp LIMIT 1)
    FROM g WHERE g.grp IS NOT NULL),
  room AS (
    SELECT g.grp, $7::int - (SELECT count(*) FROM jobs r
      WHERE r.state = 'processing' AND r.grp IS NOT NULL AND r.queue = $6 AND r.grp = g.grp)::int
      AS n
    FROM g WHERE g.grp IS NOT NULL),
  best AS MATERIALIZED (
    SELECT x.seq FROM room CROSS JOIN LATERAL (
      SELECT seq, priority, next_run_at FROM jobs
      WHERE state IN ('pending', 'failed') AND grp IS NOT NULL
        AND (queue, grp) >= ($6, room.grp) AND (queue, grp) <= ($6, room.grp)
        AND next_run_at <= $5::bigint
        AND (expires_at IS NULL OR expires_at > $5::bigint OR attempts > 0)
      ORDER BY priority DESC, next_run_at, seq
      LIMIT greatest(room.n, 0)) x
    WHERE room.n > 0
    ORDER BY x.priority DESC, x.next_run_at, x.seq
    LIMIT $4),
  picked AS MATERIALIZED (
    SELECT seq FROM jobs
    WHERE seq IN (SELECT seq FROM best) AND state IN ('pending', 'failed')
    FOR UPDATE SKIP LOCKED),
  ${CLAIM_PICKED}`;

/**
 * Claims up to `room` jobs of group-limited queue `queue` in `tx`, under
 * its advisory lock (DESIGN.md "Flow control"): a first window of the
 * claim order a few times the room, then the rest of
 * {@linkcode GROUP_SCAN_BUDGET}, then, if more due grouped jobs still wait,
 * the walk of every group. Each statement counts the running jobs afresh,
 * the ones taken before it included.
 */
async function claimGroupOrder(
  tx: Sql,
  args: unknown[],
  groupLimit: number,
  room: number,
): Promise<Row[]> {
  const taken: Row[] = [];
  const budget = room + GROUP_SCAN_BUDGET;
  let offset = 0;
  let scanned = 0;
  let window = Math.min(room * 4 + 16, budget);
  while (scanned < budget) {
    const left = room - taken.length;
    const rows = await q(tx, CLAIM_GROUP_ORDER, [
      ...args.slice(0, 3),
      left,
      ...args.slice(4),
      groupLimit,
      window,
      offset,
    ]);
    const claimed = rows.filter((row) => row.id !== null);
    for (const row of claimed) delete row.window_rows;
    taken.push(...claimed);
    if (taken.length >= room || Number(rows[0]!.window_rows) < window) return taken;
    // The window's rows not taken are still ahead of the next one.
    offset += window - claimed.length;
    scanned += window;
    window = budget - scanned;
  }
  const rest = await q(tx, CLAIM_GROUPED, [
    ...args.slice(0, 3),
    room - taken.length,
    ...args.slice(4),
    groupLimit,
  ]);
  return [...taken, ...rest];
}

/**
 * Claims from limited queues (a concurrency cap, a rate limit, a group
 * limit): under an advisory lock per queue (taken in one order by
 * everyone, so no deadlock), reads each queue's room (running jobs, starts
 * in its window) and takes at most that, recording the starts of a
 * rate-limited queue, in transaction `tx` (the locks last until it ends,
 * so the count and the claim are one step across all hosts). Claims of
 * other queues never take these locks.
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
  // The server's clock, read once under the locks: the rate window, the
  // due test, the lease and the stamps of every statement below agree.
  const [clock] = await q(tx, `SELECT ${nowSql("$1")} AS now`, [params.now ?? null]);
  const now = Number(clock!.now);
  const { workerId } = params;
  await q(tx, PRUNE_STARTS, [queues, now]);
  const claimed: Row[] = [];
  for (const limit of await q(tx, LIMITS, [queues])) {
    let room = params.limit - claimed.length;
    if (room <= 0) break;
    if (limit.running_room !== null) room = Math.min(room, limit.running_room as number);
    if (limit.rate_room !== null) room = Math.min(room, limit.rate_room as number);
    if (room <= 0) continue;
    const groupLimit = limit.group_concurrency as number;
    const args = [workerId, params.leaseMs, now, room, now, limit.name];
    let rows = groupLimit > 0
      ? await claimGroupOrder(tx, args, groupLimit, room)
      : await q(tx, CLAIM_QUEUE, [...args, false]);
    if (groupLimit > 0 && rows.length < room) {
      const more = await q(tx, CLAIM_QUEUE, [
        workerId,
        params.leaseMs,
        now,
        room - rows.length,
        now,
        limit.name,
        true,
      ]);
      rows = [...rows, ...more];
    }
    if ((limit.rate_limit as number) > 0 && rows.length > 0) {
      await q(tx, RECORD_STARTS, [limit.name, now, rows.length]);
    }
    claimed.push(...rows);
  }
  return claimed;
}

const NEXT_DUE = `SELECT next_run_at AS at FROM jobs WHERE state IN ('pending', 'failed')
  ORDER BY next_run_at LIMIT 1`;

const NEXT_DUE_IN_QUEUES = `SELECT next_run_at AS at FROM jobs
  WHERE state IN ('pending', 'failed') AND queue = ANY($1::text[])
  ORDER BY next_run_at LIMIT 1`;

/**
 * Rate-limited queues whose window is full at `$1`, with the time it next
 * allows a start: the start `rate_limit` places back leaves the window then.
 */
const FULL_WINDOWS = `SELECT q.name, x.at + q.rate_period_ms AS opens_at FROM queues q
  CROSS JOIN LATERAL (
    SELECT s.at FROM queue_starts s WHERE s.queue = q.name AND s.at > $1::bigint - q.rate_period_ms
    ORDER BY s.at DESC OFFSET q.rate_limit - 1 LIMIT 1) x
  WHERE q.rate_limit > 0 AND NOT q.paused`;

const NEXT_DUE_OUTSIDE = `SELECT next_run_at AS at FROM jobs
  WHERE state IN ('pending', 'failed') AND queue <> ALL($1::text[])
  ORDER BY next_run_at LIMIT 1`;

const NEXT_DUE_IN_QUEUES_OUTSIDE = `SELECT next_run_at AS at FROM jobs
  WHERE state IN ('pending', 'failed') AND queue = ANY($2::text[]) AND queue <> ALL($1::text[])
  ORDER BY next_run_at LIMIT 1`;

/**
 * When the next waiting job (of `queues`, or any) is due, or `null`; a
 * rate-limited queue whose window is full counts as due when it opens.
 */
export function jobNextDueAt(
  pg: PgDb,
  params: { queues: string[] | null; now: number },
): Promise<number | null> {
  return call(pg, async () => {
    const { queues } = params;
    const full = (await q(pg.sql, FULL_WINDOWS, [params.now])).filter((row) =>
      queues === null || queues.includes(row.name as string)
    );
    if (full.length === 0) {
      const [row] = queues
        ? await q(pg.sql, NEXT_DUE_IN_QUEUES, [queues])
        : await q(pg.sql, NEXT_DUE);
      return (row?.at as number | null | undefined) ?? null;
    }
    // A queue whose window is full is due when the window opens, not
    // before: an idle worker sleeps until then instead of polling.
    const names = full.map((row) => row.name as string);
    const [row] = queues
      ? await q(pg.sql, NEXT_DUE_IN_QUEUES_OUTSIDE, [names, queues])
      : await q(pg.sql, NEXT_DUE_OUTSIDE, [names]);
    const times = full.map((f) => Number(f.opens_at));
    if (row?.at !== undefined && row.at !== null) times.push(row.at as number);
    return Math.min(...times);
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
