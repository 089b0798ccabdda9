/** Queues on PostgreSQL: their settings (pause, concurrency), jobs per state, how each keeps up. */
import { toQueueHealth, toQueues } from "../_rows.ts";
import type { QueueHealth, QueueInfo } from "../storage.ts";
import { begin, call, notify, type PgDb, q } from "./connection.ts";

const SETTINGS = "SELECT name, paused, concurrency FROM queues";

const COUNTS = "SELECT queue, state, count(*) AS n FROM jobs GROUP BY queue, state";

/** Every queue that has settings or jobs, with its counts per state. */
export function queueList(pg: PgDb): Promise<QueueInfo[]> {
  return call(pg, async () => {
    const [settings, counts] = await Promise.all([q(pg.sql, SETTINGS), q(pg.sql, COUNTS)]);
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

const SET = `INSERT INTO queues (name, paused, concurrency)
  VALUES ($1, coalesce($2::boolean, false), coalesce($3::int, 0))
  ON CONFLICT (name) DO UPDATE SET paused = coalesce($2::boolean, queues.paused),
    concurrency = coalesce($3::int, queues.concurrency)`;

/** Changes a queue's settings (those given); wakes the workers. */
export function queueSet(
  pg: PgDb,
  params: { name: string; paused?: boolean | undefined; concurrency?: number | undefined },
): Promise<void> {
  return call(pg, async () => {
    await begin(pg, async (tx) => {
      await q(tx, SET, [params.name, params.paused ?? null, params.concurrency ?? null]);
      await notify(pg, tx);
    });
  });
}
