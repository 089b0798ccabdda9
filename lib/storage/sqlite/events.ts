/**
 * The event log on SQLite (DESIGN.md "The event log"): the triggers that
 * write an event in the same transaction as each change of a job's state,
 * progress or fields, the reads of `events`, the marks (pruned through,
 * webhook cursor), pruning, progress writes and hook results. Each export
 * without SQL in its name is the `Storage` method of its name (documented
 * there).
 *
 * SQLite has one writer at a time, so a `seq` taken inside a write
 * transaction is in commit order: a reader asking for `seq > last` never
 * skips an event. AUTOINCREMENT keeps a seq from being reused after the
 * newest events were pruned.
 */
import { FINISH_TYPES, type QueueEvent, toEvent } from "../../event.ts";
import type { EventListParams, EventPage, ProgressWrite, RunHookParams } from "../storage.ts";
import { promise, type SqliteDb } from "./connection.ts";

const FINISHES = `(${FINISH_TYPES.map((t) => `'${t}'`).join(", ")})`;

/**
 * The migration that adds the log. The triggers know every state by the
 * pair (old, new), not by the statement that changed it, so a state change
 * added later emits its event without knowing of the log.
 */
export const EVENTS_SQL = `
  -- the event log (README "Events", DESIGN.md "The event log")
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    type TEXT NOT NULL,
    job_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    exit_code INTEGER,
    outcome TEXT,
    host TEXT,
    worker TEXT,
    error TEXT,
    progress INTEGER,
    message TEXT
  );
  -- 'pruned': the highest seq deleted; 'webhook': delivered through
  CREATE TABLE event_marks (name TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
  ALTER TABLE jobs ADD COLUMN on_finish TEXT;
  ALTER TABLE jobs ADD COLUMN progress INTEGER;
  ALTER TABLE jobs ADD COLUMN progress_message TEXT;
  ALTER TABLE jobs ADD COLUMN progress_at INTEGER;
  -- the attempt the progress belongs to: a new attempt shows none without a write
  ALTER TABLE jobs ADD COLUMN progress_attempt INTEGER;
  ALTER TABLE runs ADD COLUMN hook TEXT;

  CREATE TRIGGER jobs_event_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO events (at, type, job_id, queue, attempt)
    VALUES (NEW.updated_at,
      CASE NEW.state WHEN 'blocked' THEN 'blocked' WHEN 'held' THEN 'held' ELSE 'enqueued' END,
      NEW.id, NEW.queue, NEW.attempts);
  END;

  -- An attempt's end reads its run; the finish writes the job first and
  -- the run after it, so jobs_event_run below fills in what was not there yet.
  CREATE TRIGGER jobs_event_state AFTER UPDATE OF state ON jobs
    WHEN OLD.state <> NEW.state BEGIN
    INSERT INTO events (at, type, job_id, queue, attempt, exit_code, outcome, host, worker, error)
    SELECT NEW.updated_at,
      CASE NEW.state
        WHEN 'processing' THEN 'started'
        WHEN 'pending' THEN
          CASE OLD.state WHEN 'blocked' THEN 'unblocked' WHEN 'held' THEN 'released'
            ELSE 'enqueued' END
        ELSE NEW.state END,
      NEW.id, NEW.queue, a.attempt, r.exit_code, r.outcome,
      CASE WHEN NEW.state = 'processing'
        THEN (SELECT host FROM workers WHERE id = NEW.worker_id) ELSE r.host END,
      CASE WHEN NEW.state = 'processing' THEN NEW.worker_id ELSE r.worker_id END,
      CASE WHEN NEW.state IN ('failed', 'dead', 'cancelled') THEN NEW.last_error END
    FROM (SELECT CASE WHEN OLD.state = 'processing' THEN OLD.attempts ELSE NEW.attempts END
            AS attempt) a
    LEFT JOIN runs r ON OLD.state = 'processing' AND r.seq =
      (SELECT max(seq) FROM runs WHERE job_id = NEW.id AND attempt = a.attempt);
  END;

  CREATE TRIGGER jobs_event_run AFTER UPDATE OF finished_at ON runs
    WHEN OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL BEGIN
    UPDATE events SET exit_code = NEW.exit_code, outcome = NEW.outcome, host = NEW.host,
      worker = NEW.worker_id
    WHERE seq = (SELECT max(seq) FROM events) AND job_id = NEW.job_id
      AND attempt = NEW.attempt AND outcome IS NULL AND type IN ${FINISHES};
  END;

  CREATE TRIGGER jobs_event_progress AFTER UPDATE OF progress, progress_message ON jobs
    WHEN OLD.state = NEW.state AND NEW.progress_at IS NOT NULL
      AND (NEW.progress IS NOT OLD.progress OR NEW.progress_message IS NOT OLD.progress_message)
    BEGIN
    INSERT INTO events (at, type, job_id, queue, attempt, worker, progress, message)
    VALUES (NEW.progress_at, 'progress', NEW.id, NEW.queue, NEW.attempts, NEW.worker_id,
      NEW.progress, NEW.progress_message);
  END;

  CREATE TRIGGER jobs_event_edit AFTER UPDATE OF command, priority, queue, max_retries, timeout,
    env, cwd, on_finish, grp, backoff_base, backoff_max, expires_at, after_any_ids, unique_for,
    tags, next_run_at
    ON jobs
    WHEN OLD.state = NEW.state AND (NEW.command IS NOT OLD.command
      OR NEW.priority IS NOT OLD.priority OR NEW.queue IS NOT OLD.queue
      OR NEW.max_retries IS NOT OLD.max_retries OR NEW.timeout IS NOT OLD.timeout
      OR NEW.env IS NOT OLD.env OR NEW.cwd IS NOT OLD.cwd OR NEW.on_finish IS NOT OLD.on_finish
      OR NEW.grp IS NOT OLD.grp OR NEW.backoff_base IS NOT OLD.backoff_base
      OR NEW.backoff_max IS NOT OLD.backoff_max OR NEW.expires_at IS NOT OLD.expires_at
      OR NEW.after_any_ids IS NOT OLD.after_any_ids OR NEW.unique_for IS NOT OLD.unique_for
      OR NEW.tags IS NOT OLD.tags OR NEW.next_run_at IS NOT OLD.next_run_at)
    BEGIN
    INSERT INTO events (at, type, job_id, queue, attempt)
    VALUES (NEW.updated_at, 'edited', NEW.id, NEW.queue, NEW.attempts);
  END;
`;

function mark(db: SqliteDb, name: string): number {
  return (db.get("SELECT seq FROM event_marks WHERE name = ?", name)?.seq as number) ?? 0;
}

export function eventList(db: SqliteDb, params: EventListParams): Promise<EventPage> {
  return promise(() =>
    db.read(() => {
      const top = (db.get("SELECT max(seq) AS top FROM events")?.top as number | null) ?? 0;
      const pruned = mark(db, "pruned");
      const after = Math.max(params.after, 0);
      const where = ["seq > ?", "seq <= ?"];
      const args: (string | number)[] = [after, top];
      if (params.queues?.length) {
        where.push("queue IN (SELECT value FROM json_each(?))");
        args.push(JSON.stringify(params.queues));
      }
      if (params.types?.length) {
        where.push("type IN (SELECT value FROM json_each(?))");
        args.push(JSON.stringify(params.types));
      }
      if (params.job !== undefined) {
        where.push("job_id = ?");
        args.push(params.job);
      }
      const rows = db.all(
        `SELECT * FROM events WHERE ${where.join(" AND ")} ORDER BY seq LIMIT ?`,
        ...args,
        params.limit,
      );
      const events: QueueEvent[] = rows.map(toEvent);
      const through = events.length === params.limit ? events.at(-1)!.seq : Math.max(top, after);
      return { events, through, prunedThrough: pruned, latest: top };
    })
  );
}

export function eventPrune(
  db: SqliteDb,
  params: { before: number; limit: number },
): Promise<number> {
  return promise(() =>
    db.write(() => {
      // Events are in `at` order but for clock steps: delete the oldest ones up to the first kept.
      const rows = db.all("SELECT seq, at FROM events ORDER BY seq LIMIT ?", params.limit);
      let through = 0;
      for (const row of rows) {
        if ((row.at as number) >= params.before) break;
        through = row.seq as number;
      }
      if (through === 0) return 0;
      const n = db.run("DELETE FROM events WHERE seq <= ?", through);
      db.run(
        `INSERT INTO event_marks (name, seq) VALUES ('pruned', ?)
         ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)`,
        through,
      );
      return n;
    }, null)
  );
}

/** The events up to the first one kept (`at` ≥ `before`), as `eventPrune` goes. */
export function eventPruneCount(db: SqliteDb, params: { before: number }): Promise<number> {
  return promise(() =>
    db.read(() => {
      const [row] = db.all(
        `SELECT count(*) AS n FROM events
          WHERE seq < coalesce((SELECT min(seq) FROM events WHERE at >= ?), 9e18)`,
        params.before,
      );
      return Number(row?.n ?? 0);
    })
  );
}

export function eventMarkGet(db: SqliteDb, params: { name: string }): Promise<number> {
  return promise(() => db.read(() => mark(db, params.name)));
}

export function eventMarkSet(db: SqliteDb, params: { name: string; seq: number }): Promise<void> {
  return promise(() =>
    db.write(() => {
      db.run(
        `INSERT INTO event_marks (name, seq) VALUES (?, ?)
         ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)`,
        params.name,
        params.seq,
      );
    }, null)
  );
}

export function jobProgressSet(db: SqliteDb, params: ProgressWrite): Promise<
  "written" | "coalesced" | "not_live"
> {
  return promise(() =>
    db.write(() => {
      const changed = db.run(
        `UPDATE jobs SET progress = ?, progress_message = ?, progress_at = ?, progress_attempt = ?
         WHERE id = ? AND state = 'processing' AND attempts = ?
           AND (progress_at IS NULL OR progress_attempt IS NOT ? OR progress_at <= ? OR ? = 100)`,
        params.progress,
        params.message,
        params.now,
        params.attempt,
        params.id,
        params.attempt,
        params.attempt,
        params.now - params.coalesceMs,
        params.progress,
      );
      if (changed > 0) return "written";
      const live = db.get(
        "SELECT 1 AS live FROM jobs WHERE id = ? AND state = 'processing' AND attempts = ?",
        params.id,
        params.attempt,
      );
      return live ? "coalesced" : "not_live";
    }, "ends")
  );
}

export function runHookSet(db: SqliteDb, params: RunHookParams): Promise<void> {
  return promise(() =>
    db.write(() => {
      const { id, attempt, hook, eventOnly } = params;
      let run: Record<string, unknown> | undefined;
      if (eventOnly) {
        run = { host: eventOnly.host, worker_id: eventOnly.worker };
      } else {
        run = db.get(
          `SELECT seq, worker_id, host FROM runs WHERE job_id = ? AND attempt = ?
           ORDER BY seq DESC LIMIT 1`,
          id,
          attempt,
        );
        if (!run) return;
        db.run("UPDATE runs SET hook = ? WHERE seq = ?", JSON.stringify(hook), run.seq as number);
      }
      db.run(
        `INSERT INTO events (at, type, job_id, queue, attempt, exit_code, outcome, host, worker, error)
         SELECT ?, 'hook', id, queue, ?, ?, ?, ?, ?, ? FROM jobs WHERE id = ?`,
        params.now,
        attempt,
        hook.exit_code,
        hook.outcome,
        run.host as string | null,
        run.worker_id as string | null,
        hook.error,
        id,
      );
    }, "ends")
  );
}
