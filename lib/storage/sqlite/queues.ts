/**
 * Queue controls on SQLite: pausing a queue, capping its running jobs, its
 * rate limit and its group concurrency (the claim in `claim.ts` honours
 * them all), each queue's jobs by state, and how each keeps up (waiting,
 * delayed, finished lately). Each export is the `Storage` method of its
 * name (documented there).
 */
import { toQueueHealth, toQueues } from "../_rows.ts";
import type { QueueHealth, QueueInfo, QueueRate, QueueSetParams } from "../storage.ts";
import { promise, type SqliteDb } from "./connection.ts";

export function queueList(db: SqliteDb, now: number): Promise<QueueInfo[]> {
  return promise(() =>
    db.read(() =>
      toQueues(
        db.all(
          `SELECT name, paused, concurrency, rate_limit, rate_period_ms, group_concurrency,
             (SELECT count(*) FROM queue_starts s
              WHERE s.queue = q.name AND s.at > ? - q.rate_period_ms) AS rate_used
           FROM queues q`,
          now,
        ),
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

export function queueSet(db: SqliteDb, params: QueueSetParams): Promise<void> {
  const paused = params.paused === undefined ? null : params.paused ? 1 : 0;
  const concurrency = params.concurrency ?? null;
  const rateLimit = params.rate === undefined ? null : params.rate?.limit ?? 0;
  const ratePeriod = params.rate === undefined ? null : params.rate?.periodMs ?? 0;
  const groups = params.groupConcurrency ?? null;
  return promise(() => {
    db.write(() =>
      db.run(
        `INSERT INTO queues (name, paused, concurrency, rate_limit, rate_period_ms,
           group_concurrency)
         VALUES (?1, coalesce(?2, 0), coalesce(?3, 0), coalesce(?4, 0), coalesce(?5, 0),
           coalesce(?6, 0))
         ON CONFLICT (name) DO UPDATE SET paused = coalesce(?2, paused),
           concurrency = coalesce(?3, concurrency), rate_limit = coalesce(?4, rate_limit),
           rate_period_ms = coalesce(?5, rate_period_ms),
           group_concurrency = coalesce(?6, group_concurrency)`,
        params.name,
        paused,
        concurrency,
        rateLimit,
        ratePeriod,
        groups,
      )
    );
  });
}

export function queueRateList(db: SqliteDb, params: { now: number }): Promise<QueueRate[]> {
  return promise(() =>
    db.read(() =>
      db.all(
        `SELECT name, rate_limit AS "limit", rate_period_ms AS period_ms,
           (SELECT count(*) FROM queue_starts s
            WHERE s.queue = q.name AND s.at > ? - q.rate_period_ms) AS used
         FROM queues q WHERE rate_limit > 0 ORDER BY name`,
        params.now,
      ).map((row) => ({
        name: row.name as string,
        limit: Number(row.limit),
        period_ms: Number(row.period_ms),
        used: Number(row.used),
      }))
    )
  );
}
