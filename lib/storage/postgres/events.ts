/**
 * The event log on PostgreSQL (DESIGN.md "The event log", "Why the cursor
 * is gap-free"): the triggers that write an event in the same transaction
 * as each change of a job's state, progress or fields; the publisher that
 * gives events their `seq` in commit order; the reads of `events`, the
 * marks, pruning, progress writes and hook results. Each export without SQL
 * in its name is the `Storage` method of its name (documented there).
 *
 * A sequence value is taken at insert, not at commit, so a writer can
 * commit an event numbered below one a reader has already seen. Events are
 * therefore written without a `seq`, with their transaction id (`xid8`).
 * A publisher, one at a time (the `published` mark's row lock), numbers
 * only events whose transaction id is below the oldest transaction still
 * running (`pg_snapshot_xmin`): every transaction that could still add an
 * event below them has ended. Numbers are handed out in (xid, id) order
 * and each publish commits before the next starts, so a reader asking for
 * `seq > last` can never meet a later event before an earlier one.
 */
import { type QueueEvent, toEvent } from "../../event.ts";
import type { EventListParams, EventPage, ProgressWrite, RunHookParams } from "../storage.ts";
import { begin, call, type PgDb, q } from "./connection.ts";

/**
 * The migration that adds the log. The update trigger is a deferred
 * constraint trigger: it runs at commit, when the attempt's run row is
 * final whatever order the statements of the transaction wrote it in.
 */
export const EVENTS_SQL = `
  -- the event log (README "Events", DESIGN.md "The event log")
  CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq bigint,
    at bigint NOT NULL,
    type text NOT NULL,
    job_id text COLLATE "C" NOT NULL,
    queue text NOT NULL,
    attempt integer NOT NULL,
    exit_code integer,
    outcome text,
    host text,
    worker text,
    error text,
    progress integer,
    message text
  );
  CREATE UNIQUE INDEX events_seq ON events (seq);
  CREATE INDEX events_unpublished ON events (xid, id) WHERE seq IS NULL;
  -- 'published': the highest seq handed out; 'pruned': the highest deleted;
  -- 'webhook': delivered through
  CREATE TABLE event_marks (name text PRIMARY KEY, seq bigint NOT NULL);
  INSERT INTO event_marks (name, seq) VALUES ('published', 0), ('pruned', 0);
  ALTER TABLE jobs ADD COLUMN on_finish text;
  ALTER TABLE jobs ADD COLUMN progress integer;
  ALTER TABLE jobs ADD COLUMN progress_message text;
  ALTER TABLE jobs ADD COLUMN progress_at bigint;
  ALTER TABLE jobs ADD COLUMN progress_attempt integer;
  ALTER TABLE runs ADD COLUMN hook text;

  CREATE FUNCTION jobs_event_insert() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN
    INSERT INTO events (at, type, job_id, queue, attempt)
    SELECT updated_at,
      CASE state WHEN 'blocked' THEN 'blocked' WHEN 'held' THEN 'held' ELSE 'enqueued' END,
      id, queue, attempts
    FROM new_rows ORDER BY seq;
    RETURN NULL;
  END $$;
  CREATE TRIGGER jobs_event_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_event_insert();

  CREATE FUNCTION jobs_event_update() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  DECLARE
    kind text;
    r runs%ROWTYPE;
    n integer;
  BEGIN
    IF OLD.state IS DISTINCT FROM NEW.state THEN
      kind := CASE NEW.state
        WHEN 'processing' THEN 'started'
        WHEN 'pending' THEN
          CASE OLD.state WHEN 'blocked' THEN 'unblocked' WHEN 'held' THEN 'released'
            ELSE 'enqueued' END
        ELSE NEW.state END;
      n := CASE WHEN OLD.state = 'processing' THEN OLD.attempts ELSE NEW.attempts END;
      IF NEW.state = 'processing' THEN
        INSERT INTO events (at, type, job_id, queue, attempt, host, worker)
        VALUES (NEW.updated_at, kind, NEW.id, NEW.queue, n,
          (SELECT host FROM workers WHERE id = NEW.worker_id), NEW.worker_id);
      ELSE
        IF OLD.state = 'processing' THEN
          SELECT * INTO r FROM runs WHERE job_id = NEW.id AND attempt = n
            ORDER BY seq DESC LIMIT 1;
        END IF;
        INSERT INTO events (at, type, job_id, queue, attempt, exit_code, outcome, host, worker,
          error)
        VALUES (NEW.updated_at, kind, NEW.id, NEW.queue, n, r.exit_code, r.outcome, r.host,
          r.worker_id,
          CASE WHEN NEW.state IN ('failed', 'dead', 'cancelled') THEN NEW.last_error END);
      END IF;
    ELSIF NEW.progress_at IS NOT NULL AND (NEW.progress IS DISTINCT FROM OLD.progress
        OR NEW.progress_message IS DISTINCT FROM OLD.progress_message) THEN
      INSERT INTO events (at, type, job_id, queue, attempt, worker, progress, message)
      VALUES (NEW.progress_at, 'progress', NEW.id, NEW.queue, NEW.attempts, NEW.worker_id,
        NEW.progress, NEW.progress_message);
    ELSIF ROW(NEW.command, NEW.priority, NEW.queue, NEW.max_retries, NEW.timeout, NEW.env,
        NEW.cwd, NEW.on_finish, NEW.grp, NEW.backoff_base, NEW.backoff_max, NEW.expires_at,
        NEW.after_any_ids, NEW.unique_for, NEW.tags, NEW.next_run_at) IS DISTINCT FROM
        ROW(OLD.command, OLD.priority, OLD.queue, OLD.max_retries, OLD.timeout, OLD.env,
        OLD.cwd, OLD.on_finish, OLD.grp, OLD.backoff_base, OLD.backoff_max, OLD.expires_at,
        OLD.after_any_ids, OLD.unique_for, OLD.tags, OLD.next_run_at) THEN
      INSERT INTO events (at, type, job_id, queue, attempt)
      VALUES (NEW.updated_at, 'edited', NEW.id, NEW.queue, NEW.attempts);
    END IF;
    RETURN NULL;
  END $$;
  CREATE CONSTRAINT TRIGGER jobs_event_update AFTER UPDATE OF state, progress,
    progress_message, progress_at, command, priority, queue, max_retries, timeout, env, cwd,
    on_finish, grp, backoff_base, backoff_max, expires_at, after_any_ids, unique_for, tags,
    next_run_at ON jobs DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION jobs_event_update();
`;

const HAS_UNPUBLISHED = `SELECT EXISTS (SELECT 1 FROM events
  WHERE seq IS NULL AND xid < pg_snapshot_xmin(pg_current_snapshot())) AS any`;
const LOCK_PUBLISHED = "SELECT seq FROM event_marks WHERE name = 'published' FOR UPDATE";
/** At most this many events numbered per publish. */
const PUBLISH_BATCH = 20_000;
const PUBLISH = `WITH todo AS (
    SELECT id, row_number() OVER (ORDER BY xid, id) AS n FROM events
    WHERE seq IS NULL AND xid < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY xid, id LIMIT ${PUBLISH_BATCH}),
  numbered AS (UPDATE events e SET seq = $1 + todo.n FROM todo WHERE e.id = todo.id RETURNING e.seq)
  SELECT coalesce(max(seq), $1) AS top FROM numbered`;

/**
 * Numbers every event whose writer has ended, in (xid, id) order; returns
 * the highest seq handed out. Each statement of the transaction takes a
 * fresh snapshot after the lock is held, so it sees the previous publisher's
 * numbers (read committed).
 */
async function publish(pg: PgDb): Promise<number> {
  const [check] = await q(pg.sql, HAS_UNPUBLISHED);
  if (!check?.any) {
    const [row] = await q(pg.sql, "SELECT seq FROM event_marks WHERE name = 'published'");
    return Number(row?.seq ?? 0);
  }
  return await begin(pg, async (tx) => {
    const [locked] = await q(tx, LOCK_PUBLISHED);
    const base = Number(locked?.seq ?? 0);
    const [row] = await q(tx, PUBLISH, [base]);
    const top = Number(row?.top ?? base);
    if (top > base) {
      await q(tx, "UPDATE event_marks SET seq = $1 WHERE name = 'published'", [top]);
    }
    return top;
  });
}

/** Publishes what can be, then reads the marks and a page of events. */
export function eventList(pg: PgDb, params: EventListParams): Promise<EventPage> {
  return call(pg, async () => {
    const top = await publish(pg);
    const after = Math.max(params.after, 0);
    const where = ["seq > $1", "seq <= $2"];
    const args: unknown[] = [after, top];
    if (params.queues?.length) {
      args.push(params.queues);
      where.push(`queue = ANY($${args.length}::text[])`);
    }
    if (params.types?.length) {
      args.push(params.types);
      where.push(`type = ANY($${args.length}::text[])`);
    }
    if (params.job !== undefined) {
      args.push(params.job);
      where.push(`job_id = $${args.length}`);
    }
    args.push(params.limit);
    const [rows, marks] = await Promise.all([
      q(
        pg.sql,
        `SELECT * FROM events WHERE ${where.join(" AND ")} ORDER BY seq LIMIT $${args.length}`,
        args,
      ),
      q(pg.sql, "SELECT seq FROM event_marks WHERE name = 'pruned'"),
    ]);
    const events: QueueEvent[] = rows.map(toEvent);
    const through = events.length === params.limit ? events.at(-1)!.seq : Math.max(top, after);
    return { events, through, prunedThrough: Number(marks[0]?.seq ?? 0), latest: top };
  });
}

/** Deletes the oldest published events before `before`; an unpublished event is never pruned. */
export function eventPrune(pg: PgDb, params: { before: number; limit: number }): Promise<number> {
  return call(pg, async () => {
    await publish(pg);
    const rows = await q(
      pg.sql,
      "SELECT seq, at FROM events WHERE seq IS NOT NULL ORDER BY seq LIMIT $1",
      [params.limit],
    );
    let through = 0;
    for (const row of rows) {
      if (Number(row.at) >= params.before) break;
      through = Number(row.seq);
    }
    if (through === 0) return 0;
    return await begin(pg, async (tx) => {
      const deleted = await q(tx, "DELETE FROM events WHERE seq <= $1 RETURNING 1", [through]);
      await q(
        tx,
        "UPDATE event_marks SET seq = greatest(seq, $1) WHERE name = 'pruned'",
        [through],
      );
      return deleted.length;
    });
  });
}

/**
 * The published events up to the first one kept (`at` ≥ `before`), as
 * `eventPrune` goes; it publishes first, this only reads.
 */
export function eventPruneCount(pg: PgDb, params: { before: number }): Promise<number> {
  return call(pg, async () => {
    const [row] = await q(
      pg.sql,
      `SELECT count(*) AS n FROM events
        WHERE seq IS NOT NULL
          AND seq < coalesce((SELECT min(seq) FROM events WHERE seq IS NOT NULL AND at >= $1),
                             9223372036854775807)`,
      [params.before],
    );
    return Number(row?.n ?? 0);
  });
}

export function eventMarkGet(pg: PgDb, params: { name: string }): Promise<number> {
  return call(pg, async () => {
    const [row] = await q(pg.sql, "SELECT seq FROM event_marks WHERE name = $1", [params.name]);
    return Number(row?.seq ?? 0);
  });
}

export function eventMarkSet(pg: PgDb, params: { name: string; seq: number }): Promise<void> {
  return call(pg, async () => {
    await q(
      pg.sql,
      `INSERT INTO event_marks (name, seq) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET seq = greatest(event_marks.seq, excluded.seq)`,
      [params.name, params.seq],
    );
  });
}

const PROGRESS = `UPDATE jobs SET progress = $1, progress_message = $2, progress_at = $3,
    progress_attempt = $5
  WHERE id = $4 AND state = 'processing' AND attempts = $5
    AND (progress_at IS NULL OR progress_attempt IS DISTINCT FROM $5 OR progress_at <= $6
      OR $1 = 100)
  RETURNING id`;

export function jobProgressSet(
  pg: PgDb,
  params: ProgressWrite,
): Promise<"written" | "coalesced" | "not_live"> {
  return call(pg, async () => {
    const rows = await begin(pg, async (tx) => {
      const written = await q(tx, PROGRESS, [
        params.progress,
        params.message,
        params.now,
        params.id,
        params.attempt,
        params.now - params.coalesceMs,
      ]);
      if (written.length > 0) await q(tx, "SELECT pg_notify($1, '')", [pg.doneChannel]);
      return written;
    });
    if (rows.length > 0) return "written";
    const live = await q(
      pg.sql,
      "SELECT 1 FROM jobs WHERE id = $1 AND state = 'processing' AND attempts = $2",
      [params.id, params.attempt],
    );
    return live.length > 0 ? "coalesced" : "not_live";
  });
}

export function runHookSet(pg: PgDb, params: RunHookParams): Promise<void> {
  const { id, attempt, hook, eventOnly } = params;
  return call(pg, async () => {
    await begin(pg, async (tx) => {
      if (eventOnly) {
        // No attempt of its own (cancelled while not running): the event only.
        await q(
          tx,
          `INSERT INTO events (at, type, job_id, queue, attempt, exit_code, outcome, host, worker,
             error)
           SELECT $3, 'hook', j.id, j.queue, $2, $4, $5, $6, $7, $8 FROM jobs j WHERE j.id = $1`,
          [
            id,
            attempt,
            params.now,
            hook.exit_code,
            hook.outcome,
            eventOnly.host,
            eventOnly.worker,
            hook.error,
          ],
        );
      } else {
        await q(
          tx,
          `WITH run AS (
             UPDATE runs SET hook = $3 WHERE seq =
               (SELECT max(seq) FROM runs WHERE job_id = $1 AND attempt = $2)
             RETURNING host, worker_id)
           INSERT INTO events (at, type, job_id, queue, attempt, exit_code, outcome, host, worker,
             error)
           SELECT $4, 'hook', j.id, j.queue, $2, $5, $6, run.host, run.worker_id, $7
           FROM jobs j, run WHERE j.id = $1`,
          [id, attempt, JSON.stringify(hook), params.now, hook.exit_code, hook.outcome, hook.error],
        );
      }
      await q(tx, "SELECT pg_notify($1, '')", [pg.doneChannel]);
    });
  });
}
