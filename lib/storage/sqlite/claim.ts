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
import { expireDue } from "./flow.ts";

export function jobClaim(db: SqliteDb, params: ClaimParams): Promise<ClaimedJob[]> {
  return promise(() => db.write(() => claim(db, params), null));
}

/** A queue's controls as the claim reads them (README "Queues", "Flow control"). */
const CONTROLS = `SELECT name, paused, concurrency, rate_limit, rate_period_ms, group_concurrency
  FROM queues
  WHERE paused = 1 OR concurrency > 0 OR rate_limit > 0 OR group_concurrency > 0`;

/** The claim, inside a write transaction. */
export function claim(db: SqliteDb, claimParams: ClaimParams): ClaimedJob[] {
  // One host: its own clock is the store's (a test may fix it).
  const now = claimParams.now ?? db.now();
  const params = { ...claimParams, now };
  const { workerId } = params;
  // A job past its expiry is cancelled here, never started late; the same
  // write holds the lock, so no other claimer can start it meanwhile.
  expireDue(db, now);
  // Paused or limited queues, read inside the claim's write lock, so
  // a limit holds across every process. With none (the usual case)
  // the claim is the one plain statement.
  const controls = db.all(CONTROLS);
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
      let room = params.limit - rows.length;
      if (room <= 0) break;
      const concurrency = control.concurrency as number;
      if (concurrency > 0) {
        const running = db.get(
          "SELECT count(*) AS n FROM jobs WHERE state = 'processing' AND queue = ?",
          name,
        )!.n as number;
        room = Math.min(room, concurrency - running);
      }
      const rate = control.rate_limit as number;
      const periodMs = control.rate_period_ms as number;
      if (rate > 0) {
        db.run("DELETE FROM queue_starts WHERE queue = ? AND at <= ?", name, now - periodMs);
        const used = db.get("SELECT count(*) AS n FROM queue_starts WHERE queue = ?", name)!
          .n as number;
        room = Math.min(room, rate - used);
      }
      if (room <= 0) continue;
      const groupLimit = control.group_concurrency as number;
      const taken = groupLimit > 0
        ? claimGrouped(db, params, name, groupLimit, room)
        : claimWhere(db, params, "AND queue = ?", [name], room);
      if (rate > 0) {
        const start = db.stmt("INSERT INTO queue_starts (queue, at) VALUES (?, ?)");
        for (let i = 0; i < taken.length; i++) start.run(name, now);
      }
      rows.push(...taken);
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

/** The running jobs of each group of a queue that has any (at most as many groups as running jobs). */
const GROUP_RUNNING = `SELECT grp, count(*) AS n FROM jobs INDEXED BY jobs_group_running
  WHERE state = 'processing' AND grp IS NOT NULL AND queue = ? GROUP BY grp`;

/**
 * The due grouped jobs of queue `?1` in the claim order (`jobs_group_order`,
 * which holds every column read, so no row of the table is read), at most
 * `?3` of them, those of the groups in `?4` (full) left out; then one row of
 * nulls if more than `?3` due grouped jobs wait. Read row by row, so a
 * claim that fills its room early reads no further (DESIGN.md "Flow
 * control").
 */
const GROUP_ORDER = `SELECT seq, grp FROM (
    SELECT seq, grp FROM jobs INDEXED BY jobs_group_order
    WHERE state IN ('pending', 'failed') AND grp IS NOT NULL AND queue = ?1
      AND next_run_at <= ?2
    ORDER BY priority DESC, next_run_at, seq LIMIT ?3)
  WHERE grp NOT IN (SELECT value FROM json_each(?4))
  UNION ALL
  SELECT NULL, NULL FROM (
    SELECT 1 FROM jobs INDEXED BY jobs_group_order
    WHERE state IN ('pending', 'failed') AND grp IS NOT NULL AND queue = ?1
      AND next_run_at <= ?2
    ORDER BY priority DESC, next_run_at, seq LIMIT 1 OFFSET ?3)`;

/**
 * The rows a group-limited claim reads in the claim order before it falls
 * back to the walk of every group (beyond the room it fills): waiting jobs
 * of groups at their limit that sort ahead are passed over one by one, so
 * a deep backlog of a full group at the head would otherwise cost each
 * claim its depth (DESIGN.md "Flow control").
 */
const GROUP_SCAN_BUDGET = 128;

/**
 * The fallback's round: the distinct groups of the queue's waiting jobs,
 * found by skipping through `jobs_group_due` (one probe per group, however
 * deep each group's backlog), and the due head of each group that has room
 * under `groupLimit`, best first, at most `limit`.
 */
const GROUP_HEADS = `WITH RECURSIVE g(grp) AS (
    SELECT (SELECT min(grp) FROM jobs INDEXED BY jobs_group_due
            WHERE state IN ('pending', 'failed') AND grp IS NOT NULL AND queue = ?1)
    UNION ALL
    SELECT (SELECT min(grp) FROM jobs INDEXED BY jobs_group_due
            WHERE state IN ('pending', 'failed') AND grp IS NOT NULL AND queue = ?1
              AND grp > g.grp)
    FROM g WHERE g.grp IS NOT NULL),
  heads AS (
    SELECT (SELECT seq FROM jobs INDEXED BY jobs_group_due
            WHERE state IN ('pending', 'failed') AND grp IS NOT NULL AND queue = ?1
              AND grp = g.grp AND next_run_at <= ?2
            ORDER BY priority DESC, next_run_at, seq LIMIT 1) AS seq
    FROM g
    WHERE g.grp IS NOT NULL
      AND (SELECT count(*) FROM jobs INDEXED BY jobs_group_running
           WHERE state = 'processing' AND grp IS NOT NULL AND queue = ?1 AND grp = g.grp) < ?3)
  SELECT j.seq FROM heads h JOIN jobs j ON j.seq = h.seq
  ORDER BY j.priority DESC, j.next_run_at, j.seq LIMIT ?4`;

/**
 * Claims up to `room` jobs of a group-limited queue (DESIGN.md "Flow
 * control"): its due grouped jobs in the claim order, counting each
 * group's running jobs and the ones this claim takes, so no group passes
 * `groupLimit`; groups already full cost their rows that sort ahead, no
 * more, and the number of groups costs nothing. Past
 * {@linkcode GROUP_SCAN_BUDGET} rows it falls back to the walk of every
 * group, round by round (a group under a limit of N gains at most one job
 * a round). Then jobs without a group.
 */
function claimGrouped(
  db: SqliteDb,
  params: ClaimParams & { now: number },
  queue: string,
  groupLimit: number,
  room: number,
): Row[] {
  // Each group's running jobs, then the ones this claim takes.
  const taking = new Map<string, number>();
  for (const row of db.all(GROUP_RUNNING, queue)) taking.set(row.grp as string, row.n as number);
  const full = [...taking].filter(([, n]) => n >= groupLimit).map(([group]) => group);
  const seqs: number[] = [];
  let more = false;
  for (
    const row of db.stmt(GROUP_ORDER).iterate(
      queue,
      params.now,
      room + GROUP_SCAN_BUDGET,
      JSON.stringify(full),
    ) as Iterable<Row>
  ) {
    if (row.seq === null) {
      more = true;
      break;
    }
    const group = row.grp as string;
    const running = taking.get(group) ?? 0;
    if (running >= groupLimit) continue;
    taking.set(group, running + 1);
    seqs.push(row.seq as number);
    if (seqs.length === room) break;
  }
  const taken = claimSeqs(db, params, seqs);
  for (let round = 0; more && round < groupLimit && taken.length < room; round++) {
    const heads = db.all(GROUP_HEADS, queue, params.now, groupLimit, room - taken.length)
      .map((row) => row.seq as number);
    if (heads.length === 0) break;
    taken.push(...claimSeqs(db, params, heads));
  }
  if (taken.length < room) {
    taken.push(
      ...claimWhere(db, params, "AND queue = ? AND grp IS NULL", [queue], room - taken.length),
    );
  }
  return taken;
}

/** Claims the waiting jobs `seqs` names (by rowid: no walk of the claim index). */
function claimSeqs(
  db: SqliteDb,
  params: { workerId: string; now: number; leaseMs: number },
  seqs: number[],
): Row[] {
  if (seqs.length === 0) return [];
  const { now } = params;
  return db.all(
    `UPDATE jobs SET state = 'processing', attempts = attempts + 1, worker_id = ?,
       lease_expires_at = ?, updated_at = ?, cancel_requested = 0
     WHERE seq IN (SELECT value FROM json_each(?)) AND state IN ('pending', 'failed')
     RETURNING *`,
    params.workerId,
    now + params.leaseMs,
    now,
    JSON.stringify(seqs),
  );
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

/**
 * The rate-limited queues whose window is full at `now`, with the time it
 * next allows a start: the start `rate_limit` places back leaves the
 * window then (README "Flow control"). SQLite takes no outer column in
 * an OFFSET, so one probe per rate-limited queue (a handful).
 */
function fullWindows(db: SqliteDb, now: number): { name: string; opensAt: number }[] {
  const full: { name: string; opensAt: number }[] = [];
  for (
    const q of db.all(
      "SELECT name, rate_limit, rate_period_ms FROM queues WHERE rate_limit > 0 AND paused = 0",
    )
  ) {
    const periodMs = q.rate_period_ms as number;
    const row = db.get(
      `SELECT at FROM queue_starts WHERE queue = ? AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?`,
      q.name as string,
      now - periodMs,
      (q.rate_limit as number) - 1,
    );
    if (row) full.push({ name: q.name as string, opensAt: (row.at as number) + periodMs });
  }
  return full;
}

export function jobNextDueAt(
  db: SqliteDb,
  params: { queues: string[] | null; now?: number | undefined },
): Promise<number | null> {
  return promise(() =>
    db.read(() => {
      const now = params.now ?? db.now();
      const full = fullWindows(db, now).filter((f) =>
        params.queues === null || params.queues.includes(f.name)
      );
      let row;
      if (full.length === 0) {
        row = params.queues
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
      }
      // A queue whose window is full is due when the window opens, not
      // before: an idle worker sleeps until then instead of polling.
      row = db.get(
        `SELECT next_run_at AS at FROM jobs INDEXED BY jobs_next_due
         WHERE state IN ('pending', 'failed') AND queue NOT IN (SELECT value FROM json_each(?))
           ${params.queues ? "AND queue IN (SELECT value FROM json_each(?))" : ""}
         ORDER BY next_run_at LIMIT 1`,
        JSON.stringify(full.map((f) => f.name)),
        ...(params.queues ? [JSON.stringify(params.queues)] : []),
      );
      const times = full.map((f) => f.opensAt);
      if (row?.at !== undefined && row.at !== null) times.push(row.at as number);
      return Math.min(...times);
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
