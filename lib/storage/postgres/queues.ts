/**
 * Queues on PostgreSQL: their settings (pause, concurrency, rate limit,
 * group concurrency), jobs per state, and how each keeps up.
 */
import { toQueueHealth, toQueues } from "../_rows.ts";
import type { QueueHealth, QueueInfo, QueueRate, QueueSetParams } from "../storage.ts";
import { begin, call, notify, type PgDb, q } from "./connection.ts";

const SETTINGS = `SELECT name, paused, concurrency, rate_limit, rate_period_ms, group_concurrency,
    (SELECT count(*) FROM queue_starts s
     WHERE s.queue = q.name AND s.at > $1::bigint - q.rate_period_ms) AS rate_used
  FROM queues q`;

const COUNTS = "SELECT queue, state, count(*) AS n FROM jobs GROUP BY queue, state";

/** Every queue that has settings or jobs, with its counts per state. */
export function queueList(pg: PgDb, now: number): Promise<QueueInfo[]> {
  return call(pg, async () => {
    const [settings, counts] = await Promise.all([
      q(pg.sql, SETTINGS, [now]),
      q(pg.sql, COUNTS),
    ]);
    return toQueues(settings, counts);
  });
}

const WAITING = `SELECT queue,
    count(*) FILTER (WHERE state = 'pending' AND next_run_at > $1) AS scheduled,
    min(next_run_at) FILTER (WHERE next_run_at <= $1) AS oldest_due
  FROM jobs WHERE state IN ('pending', 'failed') GROUP BY queue`;

const FINISHED = `SELECT j.queue, count(*) FILTER (WHERE r.outcome = 'succeeded') AS completed,
    count(*) FILTER (WHERE r.outcome <> 'succeeded') AS failed
  FROM runs r JOIN jobs j ON j.id = r.job_id
  WHERE r.finished_at IS NOT NULL AND r.finished_at >= $1 GROUP BY j.queue`;

/** Per queue: delayed jobs, the oldest due time still waiting, attempts finished lately. */
export function queueHealthList(
  pg: PgDb,
  params: { now: number; since: number },
): Promise<QueueHealth[]> {
  return call(pg, async () => {
    const [waiting, finished] = await Promise.all([
      q(pg.sql, WAITING, [params.now]),
      q(pg.sql, FINISHED, [params.since]),
    ]);
    return toQueueHealth(waiting, finished);
  });
}

const SET = `INSERT INTO queues (name, paused, concurrency, rate_limit, rate_period_ms,
    group_concurrency)
  VALUES ($1, coalesce($2::boolean, false), coalesce($3::int, 0), coalesce($4::int, 0),
    coalesce($5::bigint, 0), coalesce($6::int, 0))
  ON CONFLICT (name) DO UPDATE SET paused = coalesce($2::boolean, queues.paused),
    concurrency = coalesce($3::int, queues.concurrency),
    rate_limit = coalesce($4::int, queues.rate_limit),
    rate_period_ms = coalesce($5::bigint, queues.rate_period_ms),
    group_concurrency = coalesce($6::int, queues.group_concurrency)`;

/** Changes a queue's settings (those given); wakes the workers. */
export function queueSet(pg: PgDb, params: QueueSetParams): Promise<void> {
  return call(pg, async () => {
    await begin(pg, async (tx) => {
      await q(tx, SET, [
        params.name,
        params.paused ?? null,
        params.concurrency ?? null,
        params.rate === undefined ? null : params.rate?.limit ?? 0,
        params.rate === undefined ? null : params.rate?.periodMs ?? 0,
        params.groupConcurrency ?? null,
      ]);
      await notify(pg, tx);
    });
  });
}

const RATES = `SELECT name, rate_limit AS "limit", rate_period_ms AS period_ms,
    (SELECT count(*) FROM queue_starts s
     WHERE s.queue = q.name AND s.at > $1::bigint - q.rate_period_ms) AS used
  FROM queues q WHERE rate_limit > 0 ORDER BY name`;

/** The rate-limited queues and the starts in their window ending at `now`. */
export function queueRateList(pg: PgDb, params: { now: number }): Promise<QueueRate[]> {
  return call(pg, async () =>
    (await q(pg.sql, RATES, [params.now])).map((row) => ({
      name: row.name as string,
      limit: Number(row.limit),
      period_ms: Number(row.period_ms),
      used: Number(row.used),
    })));
}
