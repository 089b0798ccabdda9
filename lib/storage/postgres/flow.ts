/**
 * Job flow on PostgreSQL: dependencies and unique keys. The inserts that
 * need them ({@linkcode insertFlow}, {@linkcode keptByKey}), the open
 * dependencies of a retried job ({@linkcode openDependencies}), and the
 * trigger that moves dependents on when their dependency ends
 * ({@linkcode SETTLE_DEPENDENTS_TRIGGER}, installed by `schema.ts`).
 */
import { ConflictError } from "../../errors.ts";
import { EXPIRED_ERROR, type JobState, type NewJob, type OnConflict } from "../../job.ts";
import {
  checkAnyDependency,
  checkDependency,
  checkRetryDependency,
  dependencyEdges,
  planKeyConflict,
  planWindowConflict,
  replacedError,
} from "../../job_flow.ts";
import type { InsertResult } from "../storage.ts";
import { call, earliest, notify, type PgDb, q, type Sql } from "./connection.ts";
import { duplicateId, duplicateIdError } from "./errors.ts";

/** The active states as SQL, for the partial index on keys (the planner needs it literally). */
export const ACTIVE = "('pending', 'blocked', 'processing', 'failed', 'held')";

/**
 * The dependents cascade, kept in the database: a trigger on `jobs` that
 * runs when a job some other job depends on (`has_dependents`) ends.
 * - `completed`: each blocked dependent has one open dependency less
 *   (`deps_open`); those left with none become `pending`, due no earlier
 *   than the dependency's end, and idle workers are woken (a NOTIFY on
 *   `queuectl_<schema>`, the channel `connection.ts` names).
 * - `dead` or `cancelled`: every blocked descendant is cancelled in one
 *   recursive statement (so a long chain never nests triggers deep), its
 *   `last_error` naming its direct dependency and the root cause.
 *
 * Why a trigger on PostgreSQL: it covers every statement that ends a job
 * (finish, cancel, replace, rescue) without each repeating it, and the
 * queries inside a trigger take a fresh snapshot, so they see a dependent
 * that committed while the ending statement waited for the dependency's
 * row lock ({@linkcode insertFlow} sets `has_dependents` on the
 * dependencies it names, which locks them until it commits). A CTE of the
 * ending statement would read the older snapshot and leave that dependent
 * blocked forever. SQLite needs no trigger: its writes are serialized, and
 * its store does the same work in TypeScript inside the ending write.
 *
 * The error text must stay the same as the SQLite store's cascade, which
 * writes `cascadeError()` of `lib/job_flow.ts`: `dependency "a" is dead`,
 * `dependency "b" was cancelled: dependency "a" is dead` (the direct
 * dependency, then only the root cause); the storage conformance suite
 * checks both stores. This text is part of a released migration (the
 * second of `PG_MIGRATIONS`) and must stay byte for byte as it is: a
 * change is a new migration that replaces the function.
 */
export const SETTLE_DEPENDENTS_TRIGGER = `
  -- Dependents move on in the statement that ends their dependency, on
  -- every path (finish, cancel, replace, rescue). A trigger, not a CTE of
  -- that statement: its queries take a fresh snapshot, so they see a
  -- dependent committed while the statement waited for the dependency's
  -- row lock (enqueue sets has_dependents on the dependencies it names,
  -- which locks them until it commits).
  CREATE FUNCTION jobs_settle_dependents() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  DECLARE
    root text;
    promoted integer;
  BEGIN
    IF NEW.state = 'completed' THEN
      WITH moved AS (
        UPDATE jobs d SET deps_open = d.deps_open - 1, updated_at = NEW.updated_at,
          state = CASE WHEN d.deps_open <= 1 THEN 'pending' ELSE 'blocked' END,
          next_run_at = CASE WHEN d.deps_open <= 1
            THEN greatest(d.next_run_at, NEW.updated_at) ELSE d.next_run_at END
        FROM job_deps e
        WHERE e.dep_id = NEW.id AND d.id = e.job_id AND d.state = 'blocked'
        RETURNING d.state)
      SELECT count(*) INTO promoted FROM moved WHERE state = 'pending';
      IF promoted > 0 THEN
        PERFORM pg_notify(left('queuectl_' || current_schema(), 63), '');
      END IF;
    ELSE
      -- the message lib/job_flow.ts cascadeError() writes, root cause kept
      root := 'dependency "' || NEW.id || '" ' ||
        CASE WHEN NEW.state = 'dead' THEN 'is dead' ELSE 'was cancelled' END ||
        CASE WHEN NEW.last_error LIKE 'dependency %'
          THEN ': ' || regexp_replace(NEW.last_error, '^.*: ', '') ELSE '' END;
      -- every blocked descendant at once (their own trigger runs then find
      -- nothing blocked), so a long chain never nests triggers deep
      WITH RECURSIVE down(id, via, depth) AS (
        SELECT e.job_id, e.dep_id, 1 FROM job_deps e JOIN jobs j ON j.id = e.job_id
          WHERE e.dep_id = NEW.id AND j.state = 'blocked'
        UNION
        SELECT e.job_id, e.dep_id, down.depth + 1 FROM down
          JOIN job_deps e ON e.dep_id = down.id JOIN jobs j ON j.id = e.job_id
          WHERE j.state = 'blocked')
      UPDATE jobs d SET state = 'cancelled', next_run_at = NULL, updated_at = NEW.updated_at,
        last_error = CASE WHEN down.depth = 1 THEN root
          ELSE 'dependency "' || down.via || '" was cancelled: ' ||
            regexp_replace(root, '^.*: ', '') END
      FROM down WHERE d.id = down.id AND d.state = 'blocked';
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER jobs_settle_dependents AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.has_dependents AND OLD.state IS DISTINCT FROM NEW.state
      AND NEW.state IN ('completed', 'dead', 'cancelled'))
    EXECUTE FUNCTION jobs_settle_dependents();
`;

/**
 * The same trigger's function with `after_any` (README "Flow control"),
 * replacing the one above in a later migration: a dependency that ends
 * `dead` or `cancelled` also counts down the dependents that named it in
 * `after_any` (promoting those left with none, as a completion does), and
 * its cascade follows only `after` edges. A descendant the cascade cancels
 * runs this function in turn, so its own `after_any` dependents move on too.
 */
export const SETTLE_DEPENDENTS_ANY = `
  CREATE OR REPLACE FUNCTION jobs_settle_dependents() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  DECLARE
    root text;
    promoted integer;
  BEGIN
    -- a completion meets every edge; another end only the after_any ones
    WITH moved AS (
      UPDATE jobs d SET deps_open = d.deps_open - 1, updated_at = NEW.updated_at,
        state = CASE WHEN d.deps_open <= 1 THEN 'pending' ELSE 'blocked' END,
        next_run_at = CASE WHEN d.deps_open <= 1
          THEN greatest(d.next_run_at, NEW.updated_at) ELSE d.next_run_at END
      FROM job_deps e
      WHERE e.dep_id = NEW.id AND d.id = e.job_id AND d.state = 'blocked'
        AND (NEW.state = 'completed' OR e.any_outcome)
      RETURNING d.state)
    SELECT count(*) INTO promoted FROM moved WHERE state = 'pending';
    IF promoted > 0 THEN
      PERFORM pg_notify(left('queuectl_' || current_schema(), 63), '');
    END IF;
    IF NEW.state <> 'completed' THEN
      -- the message lib/job_flow.ts cascadeError() writes, root cause kept
      root := 'dependency "' || NEW.id || '" ' ||
        CASE WHEN NEW.state = 'dead' THEN 'is dead' ELSE 'was cancelled' END ||
        CASE WHEN NEW.last_error LIKE 'dependency %'
          THEN ': ' || regexp_replace(NEW.last_error, '^.*: ', '') ELSE '' END;
      WITH RECURSIVE down(id, via, depth) AS (
        SELECT e.job_id, e.dep_id, 1 FROM job_deps e JOIN jobs j ON j.id = e.job_id
          WHERE e.dep_id = NEW.id AND NOT e.any_outcome AND j.state = 'blocked'
        UNION
        SELECT e.job_id, e.dep_id, down.depth + 1 FROM down
          JOIN job_deps e ON e.dep_id = down.id JOIN jobs j ON j.id = e.job_id
          WHERE NOT e.any_outcome AND j.state = 'blocked')
      UPDATE jobs d SET state = 'cancelled', next_run_at = NULL, updated_at = NEW.updated_at,
        last_error = CASE WHEN down.depth = 1 THEN root
          ELSE 'dependency "' || down.via || '" was cancelled: ' ||
            regexp_replace(root, '^.*: ', '') END
      FROM down WHERE d.id = down.id AND d.state = 'blocked';
    END IF;
    RETURN NULL;
  END $$;
`;

const KEY_HOLDERS = `SELECT id, state, unique_key FROM jobs
  WHERE unique_key = ANY($1::text[]) AND state IN ${ACTIVE}`;

/** Applies "keep" or "fail" to the jobs a keyed bulk insert left out (not in `added`). */
export async function keptByKey(
  pg: PgDb,
  tx: Sql,
  jobs: NewJob[],
  added: Set<string>,
  now: number,
  onConflict: OnConflict,
  result: InsertResult,
): Promise<void> {
  const out = jobs.filter((job) => !added.has(job.id));
  const rows = await q(tx, KEY_HOLDERS, [[...new Set(out.map((job) => job.key))]]);
  const holders = new Map(rows.map((row) => [row.unique_key as string, row]));
  const late: NewJob[] = [];
  for (const job of out) {
    const holder = holders.get(job.key!);
    if (!holder) {
      late.push(job); // its holder ended since: the key is free again
      continue;
    }
    planKeyConflict({
      jobId: job.id,
      key: job.key!,
      holderId: holder.id as string,
      holderState: holder.state as JobState,
      onConflict,
    });
    result.kept.push({ id: job.id, key: job.key!, existingId: holder.id as string });
  }
  if (late.length > 0) {
    const more = await insertFlow(pg, tx, late, now, onConflict);
    result.inserted += more.inserted;
    result.kept.push(...more.kept);
  }
}

const MARK_DEPENDENCIES = `UPDATE jobs SET has_dependents = true
  WHERE id IN (SELECT id FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE)
  RETURNING id, state`;

const KEY_HOLDER =
  `SELECT id, state FROM jobs WHERE unique_key = $1 AND state IN ${ACTIVE} FOR UPDATE`;

const CANCEL_REPLACED = `UPDATE jobs SET state = 'cancelled', next_run_at = NULL, updated_at = $2,
    last_error = $3 WHERE id = $1`;

const INSERT_JOB = `INSERT INTO jobs (id, command, state, queue, priority, max_retries, timeout,
    env, cwd, created_at, updated_at, next_run_at, retry_on, after_ids, unique_key, deps_open,
    grp, backoff_base, backoff_max, expires_at, after_any_ids, unique_for, on_finish)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13, $14, $15,
    $16, $17, $18, $19, $20, $21, $22)
  ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ${ACTIVE} DO NOTHING
  RETURNING id`;

const INSERT_DEPS = `INSERT INTO job_deps (dep_id, job_id, any_outcome)
  SELECT unnest($1::text[]), $2, unnest($3::text[])::boolean
  ON CONFLICT DO NOTHING`;

/** The newest job whose `unique_for` window still holds the key (README "Flow control"). */
const WINDOW_HOLDER = `SELECT id, created_at + (unique_for * 1000)::bigint AS until FROM jobs
  WHERE unique_key = $1 AND unique_for IS NOT NULL
    AND created_at + (unique_for * 1000)::bigint > $2::bigint
  ORDER BY created_at DESC LIMIT 1`;

const COUNT_INSERTED =
  "INSERT INTO job_count_deltas (state, n) VALUES ('pending', $1), ('blocked', $2)";

/**
 * Inserts jobs with dependencies, keys or flow control fields one by one,
 * applying the rules of README.md's "Job flow" and "Flow control". A key
 * is settled by the unique index: an insert that loses a race to another
 * transaction's insert of the same key does nothing, and the rule is
 * applied again against the winner. A key a final job holds by its
 * `unique_for` window is read as committed: that job never changes its
 * window, so two inserts both see it.
 */
export async function insertFlow(
  pg: PgDb,
  tx: Sql,
  jobs: NewJob[],
  now: number,
  onConflict: OnConflict,
): Promise<InsertResult> {
  const result: InsertResult = { inserted: 0, kept: [], blocked: [], replaced: [] };
  let pending = 0;
  for (const job of jobs) {
    const edges = dependencyEdges(job);
    let open = 0;
    if (edges.length > 0) {
      // Marking the dependencies locks them until commit, so none can end
      // unseen between this check and the dependent becoming visible.
      const rows = await q(tx, MARK_DEPENDENCIES, [edges.map((e) => e.id)]);
      const states = new Map(rows.map((r) => [r.id as string, r.state as JobState]));
      for (const edge of edges) {
        const state = states.get(edge.id) ?? null;
        const isOpen = edge.any
          ? checkAnyDependency(job.id, edge.id, state)
          : checkDependency(job.id, edge.id, state);
        if (isOpen) open++;
      }
    }
    let inserted = false;
    let keptOut = false;
    for (let round = 0; !inserted && !keptOut; round++) {
      if (job.key !== null) {
        const [holder] = await q(tx, KEY_HOLDER, [job.key]);
        if (holder) {
          const plan = planKeyConflict({
            jobId: job.id,
            key: job.key,
            holderId: holder.id as string,
            holderState: holder.state as JobState,
            onConflict,
          });
          if (plan === "keep") {
            result.kept.push({ id: job.id, key: job.key, existingId: holder.id as string });
            break;
          }
          await q(tx, CANCEL_REPLACED, [holder.id, now, replacedError(job.id)]);
          result.replaced.push(holder.id as string);
        } else {
          const [windowed] = await q(tx, WINDOW_HOLDER, [job.key, now]);
          if (windowed) {
            planWindowConflict({
              jobId: job.id,
              key: job.key,
              holderId: windowed.id as string,
              until: Number(windowed.until),
              onConflict,
            });
            result.kept.push({ id: job.id, key: job.key, existingId: windowed.id as string });
            keptOut = true;
            break;
          }
        }
      }
      if (round > 3) {
        throw new ConflictError(
          `Cannot enqueue job "${job.id}": key "${job.key}" is contended`,
          "try again",
        );
      }
      try {
        const rows = await q(tx, INSERT_JOB, [
          job.id,
          job.command,
          open > 0 ? "blocked" : "pending",
          job.queue,
          job.priority,
          job.max_retries,
          job.timeout,
          job.env === null ? null : JSON.stringify(job.env),
          job.cwd,
          now,
          job.run_at,
          job.retry_on === null ? null : JSON.stringify(job.retry_on),
          job.after === null ? null : JSON.stringify(job.after),
          job.key,
          open,
          job.group ?? null,
          job.backoff_base ?? null,
          job.backoff_max ?? null,
          job.expires_at ?? null,
          job.after_any == null ? null : JSON.stringify(job.after_any),
          job.unique_for ?? null,
          job.on_finish ?? null,
        ]);
        inserted = rows.length > 0;
      } catch (error) {
        if (duplicateId(error) !== null) throw duplicateIdError(job.id);
        throw error;
      }
    }
    if (!inserted) continue;
    if (edges.length > 0) {
      // Booleans go as text: postgres.js sends a JS boolean array as one boolean.
      const any = edges.map((e) => (e.any ? "t" : "f"));
      await q(tx, INSERT_DEPS, [edges.map((e) => e.id), job.id, any]);
    }
    if (open > 0) result.blocked.push(job.id);
    else pending++;
  }
  result.inserted = pending + result.blocked.length;
  await q(tx, COUNT_INSERTED, [pending, result.blocked.length]);
  if (pending > 0) await notify(pg, tx);
  return result;
}

const MARK_OPEN_DEPENDENCIES = `WITH marked AS (UPDATE jobs SET has_dependents = true
  WHERE id IN (SELECT j.id FROM job_deps d JOIN jobs j ON j.id = d.dep_id
               WHERE d.job_id = $1 ORDER BY j.id FOR UPDATE OF j)
  RETURNING id, state)
  SELECT m.id, m.state, d.any_outcome FROM marked m
  JOIN job_deps d ON d.dep_id = m.id AND d.job_id = $1`;

/**
 * How many dependencies of a cancelled job are still open, locking them
 * (as an insert does) so none ends unseen; a dead or cancelled one is a
 * conflict unless `retried` with it, a pruned one was final and counts
 * as met.
 */
export async function openDependencies(
  tx: Sql,
  id: string,
  retried: Set<string>,
): Promise<number> {
  const rows = await q(tx, MARK_OPEN_DEPENDENCIES, [id]);
  let open = 0;
  for (const dep of rows) {
    if (dep.state === "completed") continue;
    // An after_any dependency that ended some other way is met as well.
    if (dep.any_outcome && (dep.state === "dead" || dep.state === "cancelled")) continue;
    // A dependency retried in the same call counts as open, whatever the order.
    if (!retried.has(dep.id as string)) {
      checkRetryDependency(id, dep.id as string, dep.state as JobState);
    }
    open++;
  }
  return open;
}

const EXPIRE = `UPDATE jobs SET state = 'cancelled', next_run_at = NULL, updated_at = $1::bigint,
    last_error = $3
  WHERE seq IN (SELECT seq FROM jobs
    WHERE expires_at IS NOT NULL AND state IN ('pending', 'blocked', 'held')
      AND expires_at <= $1::bigint AND attempts = 0
    ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
  RETURNING id`;

/**
 * Cancels jobs not started by their `expires_at` (README "Flow control");
 * their dependents move on by the trigger above, as for any cancel. Rows
 * another transaction holds (a claim) are skipped: that claim expires them.
 */
export function jobExpire(
  pg: PgDb,
  params: { now: number; limit?: number | undefined },
): Promise<string[]> {
  return call(pg, async () => {
    const rows = await q(pg.sql, EXPIRE, [params.now, params.limit ?? 500, EXPIRED_ERROR]);
    return rows.map((row) => row.id as string);
  });
}

/** The earliest `expires_at` of a job that may still expire, or `null`. */
export function jobNextExpiryAt(pg: PgDb): Promise<number | null> {
  return earliest(
    pg,
    `SELECT min(expires_at) AS at FROM jobs
     WHERE expires_at IS NOT NULL AND state IN ('pending', 'blocked', 'held') AND attempts = 0`,
  );
}
