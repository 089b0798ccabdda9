/**
 * Queue controls on SQLite: pausing a queue and capping its running jobs
 * (the claim in `claim.ts` honours both), and each queue's jobs by state.
 * Each export is the `Storage` method of its name (documented there).
 */
import { toQueues } from "../_rows.ts";
import type { QueueInfo } from "../storage.ts";
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
