/** Queues on PostgreSQL: their settings (pause, concurrency) and jobs per state. */
import { toQueues } from "../_rows.ts";
import type { QueueInfo } from "../storage.ts";
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
