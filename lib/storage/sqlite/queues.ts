/**
 * Queue controls on SQLite: pausing a queue and capping its running jobs
 * (the claim in `claim.ts` honours both), each queue's jobs by state, and
 * how each keeps up (waiting, delayed, finished lately).
 * Each export is the `Storage` method of its name (documented there).
 */
import { toQueueHealth, toQueues } from "../_rows.ts";
import type { QueueHealth, QueueInfo } from "../storage.ts";
import { promise, type SqliteDb } from "./connection.ts";

export function queueList(db: SqliteDb): Promise<QueueInfo[]> {
  return promise(() =>
    db.read(() =>
      toQueues(
        db.all("SELECT name, paused, concurrency FROM queues"),
        db.all("SELECT queue, state, count(*) AS n FROM jobs GROUP BY queue, state"),
      )
    )
  );
}

export function queueHealthList(
  db: SqliteDb,
  params: { now: number; since: number },
): Promise<QueueHealth[]> {
  return promise(() =>
    db.read(() =>
      toQueueHealth(
        db.all(
          `SELECT queue, count(*) FILTER (WHERE state = 'pending' AND next_run_at > ?) AS scheduled,
             min(next_run_at) FILTER (WHERE next_run_at <= ?) AS oldest_due
           FROM jobs WHERE state IN ('pending', 'failed') GROUP BY queue`,
          params.now,
          params.now,
        ),
        db.all(
          `SELECT j.queue, count(*) FILTER (WHERE r.outcome = 'succeeded') AS completed,
             count(*) FILTER (WHERE r.outcome <> 'succeeded') AS failed
           FROM runs r JOIN jobs j ON j.id = r.job_id
           WHERE r.finished_at IS NOT NULL AND r.finished_at >= ? GROUP BY j.queue`,
          params.since,
        ),
      )
    )
  );
}

export function queueSet(
  db: SqliteDb,
  params: { name: string; paused?: boolean | undefined; concurrency?: number | undefined },
): Promise<void> {
  const paused = params.paused === undefined ? null : params.paused ? 1 : 0;
  const concurrency = params.concurrency ?? null;
  return promise(() => {
    db.write(() =>
      db.run(
        `INSERT INTO queues (name, paused, concurrency) VALUES (?, coalesce(?, 0), coalesce(?, 0))
         ON CONFLICT (name) DO UPDATE SET paused = coalesce(?, paused),
           concurrency = coalesce(?, concurrency)`,
        params.name,
        paused,
        concurrency,
        paused,
        concurrency,
      )
    );
  });
}
