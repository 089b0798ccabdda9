/**
 * The PostgreSQL schema as forward migrations, run inside the queuectl
 * schema (the connection's `search_path`): migration i brings the version
 * in `schema_version` from i to i + 1. Never edit a released migration;
 * append a new one. Columns mirror the SQLite store's schema: times are
 * epoch milliseconds in `bigint`, `env` JSON text, output `bytea`. The
 * trigger of the dependents cascade is owned and documented by `flow.ts`
 * (migration 2 takes its text from there, unchanged). Only a migration's
 * statements matter to a database; its SQL comments may be reworded.
 */
import { EVENTS_SQL } from "./events.ts";
import { SETTLE_DEPENDENTS_ANY, SETTLE_DEPENDENTS_TRIGGER } from "./flow.ts";

/** Every migration in order; the schema version is their count. */
export const PG_MIGRATIONS: readonly string[] = [
  `
  -- Ids compare byte by byte (COLLATE "C"), as in SQLite and JavaScript:
  -- list order and the order rows are locked in agree everywhere.
  -- fillfactor 80 leaves room on each page so lease renewals and state
  -- changes stay HOT updates; no index on lease_expires_at for the same reason.
  CREATE TABLE jobs (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text COLLATE "C" NOT NULL UNIQUE,
    command text NOT NULL,
    state text NOT NULL,
    queue text NOT NULL,
    priority integer NOT NULL,
    max_retries integer,
    timeout double precision,
    env text,
    cwd text,
    attempts integer NOT NULL DEFAULT 0,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    next_run_at bigint,
    last_error text,
    worker_id text,
    lease_expires_at bigint,
    cancel_requested boolean NOT NULL DEFAULT false
  ) WITH (fillfactor = 80);
  -- claim: due jobs by priority, then due time, then insertion order
  CREATE INDEX jobs_due ON jobs (priority DESC, next_run_at, seq)
    WHERE state IN ('pending', 'failed');
  -- idle workers' timers: the next due time
  CREATE INDEX jobs_next_due ON jobs (next_run_at) WHERE state IN ('pending', 'failed');
  -- status: the next scheduled retry
  CREATE INDEX jobs_retry_due ON jobs (next_run_at) WHERE state = 'failed';
  -- leases and cancel requests: a worker's running jobs
  CREATE INDEX jobs_running ON jobs (worker_id) WHERE state = 'processing';
  -- list, newest first (read backwards), with or without a state filter
  CREATE INDEX jobs_created ON jobs (created_at, id);
  CREATE INDEX jobs_state_created ON jobs (state, created_at, id);

  -- Counts per state without a hot counter row that every claim and finish
  -- on every host would lock: triggers append deltas, readers sum base +
  -- deltas, and housekeeping folds the deltas into the base now and then.
  -- Inserts add their one delta in jobInsertMany (as on SQLite): a trigger
  -- with a transition table cost a fifth of a 100,000-job batch.
  CREATE TABLE job_counts (state text PRIMARY KEY, n bigint NOT NULL);
  INSERT INTO job_counts (state, n) VALUES
    ('pending', 0), ('processing', 0), ('completed', 0),
    ('failed', 0), ('dead', 0), ('cancelled', 0);
  CREATE TABLE job_count_deltas (state text NOT NULL, n bigint NOT NULL);

  CREATE FUNCTION jobs_count_delete() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN
    INSERT INTO job_count_deltas (state, n) SELECT state, -count(*) FROM old_rows GROUP BY state;
    RETURN NULL;
  END $$;
  CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_delete();

  -- A row trigger: PostgreSQL refuses transition tables with a column list,
  -- and without one every lease renewal would fire it.
  CREATE FUNCTION jobs_count_update() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
  BEGIN
    INSERT INTO job_count_deltas (state, n) VALUES (OLD.state, -1), (NEW.state, 1);
    RETURN NULL;
  END $$;
  CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION jobs_count_update();

  CREATE TABLE runs (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id text COLLATE "C" NOT NULL,
    attempt integer NOT NULL,
    worker_id text,
    started_at bigint NOT NULL,
    finished_at bigint,
    outcome text,
    exit_code integer,
    signal text,
    error text,
    host text,
    pgid integer,
    proc_start text,
    stdout bytea,
    stderr bytea
  );
  CREATE INDEX runs_job ON runs (job_id, attempt);
  -- throughput counts by outcome from the index alone
  CREATE INDEX runs_finished ON runs (finished_at, outcome) WHERE finished_at IS NOT NULL;

  -- Output of running attempts, rewritten every second or so: kept apart
  -- (unlogged: no WAL; lost in a crash, like the attempt itself) so the
  -- runs row and its TOAST are written once, at the finish.
  CREATE UNLOGGED TABLE run_outputs (
    job_id text COLLATE "C" NOT NULL,
    attempt integer NOT NULL,
    stdout bytea NOT NULL,
    stderr bytea NOT NULL,
    PRIMARY KEY (job_id, attempt)
  );

  CREATE TABLE workers (
    id text COLLATE "C" PRIMARY KEY,
    pid integer NOT NULL,
    host text NOT NULL,
    count integer NOT NULL,
    queues text,
    started_at bigint NOT NULL,
    heartbeat_at bigint NOT NULL,
    stop_requested text,
    role text NOT NULL DEFAULT 'worker',
    -- the host's clock minus the server's, shown by status per host
    clock_offset_ms bigint NOT NULL DEFAULT 0
  );

  -- whose turn a maintenance pass is (the rescuer): one at a time across hosts
  CREATE TABLE turns (name text PRIMARY KEY, holder text NOT NULL, until bigint NOT NULL);

  CREATE TABLE config (key text PRIMARY KEY, value text NOT NULL);
  `,
  `
  -- job flow (README "Job flow"): dependencies, unique keys, retry by exit code
  ALTER TABLE jobs ADD COLUMN after_ids text;   -- JSON array, as given
  ALTER TABLE jobs ADD COLUMN unique_key text;
  ALTER TABLE jobs ADD COLUMN retry_on text;    -- JSON array
  -- dependencies not yet completed, kept while blocked: a completion
  -- decrements its dependents instead of rescanning every blocked job
  ALTER TABLE jobs ADD COLUMN deps_open integer NOT NULL DEFAULT 0;
  -- set when a dependent names it: only such a job's end runs the trigger below
  ALTER TABLE jobs ADD COLUMN has_dependents boolean NOT NULL DEFAULT false;
  -- at most one active job per key, whoever inserts it, on any host
  CREATE UNIQUE INDEX jobs_key_active ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending', 'blocked', 'processing', 'failed');
  -- every holder of a key, final ones too (retrying a dead job checks them)
  CREATE INDEX jobs_key ON jobs (unique_key) WHERE unique_key IS NOT NULL;
  CREATE TABLE job_deps (
    dep_id text COLLATE "C" NOT NULL,
    job_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (dep_id, job_id)
  );
  CREATE INDEX job_deps_job ON job_deps (job_id);
  INSERT INTO job_counts (state, n) VALUES ('blocked', 0) ON CONFLICT DO NOTHING;
${SETTLE_DEPENDENTS_TRIGGER}  `,
  `
  -- queue controls (README "Queues"): a paused queue starts nothing; concurrency > 0
  -- caps its running jobs (claims of a limited queue serialize on an
  -- advisory lock per queue; others never look at it).
  CREATE TABLE queues (
    name text COLLATE "C" PRIMARY KEY,
    paused boolean NOT NULL DEFAULT false,
    concurrency integer NOT NULL DEFAULT 0
  );
  `,
  `
  -- schedules (README "Recurring jobs"): \`job\` is the template as JSON text, as on SQLite
  CREATE TABLE schedules (
    name text COLLATE "C" PRIMARY KEY,
    cron text NOT NULL,
    tz text NOT NULL,
    catch_up text NOT NULL,
    overlap boolean NOT NULL,
    job text NOT NULL,
    paused boolean NOT NULL DEFAULT false,
    next_run_at bigint,
    last_run_at bigint,
    last_job_id text,
    skipped bigint NOT NULL DEFAULT 0,
    missed bigint NOT NULL DEFAULT 0,
    created_at bigint NOT NULL
  );
  -- the firer's timer and its due list
  CREATE INDEX schedules_due ON schedules (next_run_at) WHERE NOT paused;
  `,
  `
  -- list order: newest first, ties by insertion order (seq), not by id
  DROP INDEX IF EXISTS jobs_created;
  DROP INDEX IF EXISTS jobs_state_created;
  CREATE INDEX jobs_created ON jobs (created_at, seq);
  CREATE INDEX jobs_state_created ON jobs (state, created_at, seq);
  `,
  `
  -- flow control (README "Flow control"; DESIGN.md "Flow control")
  ALTER TABLE jobs ADD COLUMN grp text COLLATE "C";       -- the job's group
  ALTER TABLE jobs ADD COLUMN backoff_base double precision;  -- NULL: the setting
  ALTER TABLE jobs ADD COLUMN backoff_max double precision;
  ALTER TABLE jobs ADD COLUMN expires_at bigint;           -- not started by then: cancelled
  ALTER TABLE jobs ADD COLUMN after_any_ids text;          -- JSON array, as given
  ALTER TABLE jobs ADD COLUMN unique_for double precision; -- seconds the key stays taken
  -- a group-limited claim walks the groups of a queue (one probe each) and
  -- takes the head of each group with room; only grouped jobs pay for it
  CREATE INDEX jobs_group_due ON jobs (queue, grp, priority DESC, next_run_at, seq)
    WHERE state IN ('pending', 'failed') AND grp IS NOT NULL;
  CREATE INDEX jobs_group_running ON jobs (queue, grp)
    WHERE state = 'processing' AND grp IS NOT NULL;
  -- the expiry pass and the claim find jobs past their expiry without a scan
  CREATE INDEX jobs_expiring ON jobs (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('pending', 'blocked');
  -- an after_any edge is met by any final state of its dependency
  ALTER TABLE job_deps ADD COLUMN any_outcome boolean NOT NULL DEFAULT false;
  -- rate limits: at most rate_limit starts in any window of rate_period_ms;
  -- group_concurrency caps the running jobs of each group of the queue
  ALTER TABLE queues ADD COLUMN rate_limit integer NOT NULL DEFAULT 0;
  ALTER TABLE queues ADD COLUMN rate_period_ms bigint NOT NULL DEFAULT 0;
  ALTER TABLE queues ADD COLUMN group_concurrency integer NOT NULL DEFAULT 0;
  -- the starts of rate-limited queues within their window, written and
  -- pruned under the queue's advisory lock by the claim
  CREATE TABLE queue_starts (queue text COLLATE "C" NOT NULL, at bigint NOT NULL);
  CREATE INDEX queue_starts_queue_at ON queue_starts (queue, at);
${SETTLE_DEPENDENTS_ANY}  `,
  `
  -- a worker's process identity (README "Many machines: PostgreSQL"): its start
  -- time beside the pid, and the pid space (boot id, pid namespace) a host
  -- must share to judge that pid
  ALTER TABLE workers ADD COLUMN proc_start text;
  ALTER TABLE workers ADD COLUMN pid_space text;
  `,
  `
  -- operator controls (README "Operating a queue"): tags, and the held state
  ALTER TABLE jobs ADD COLUMN tags text;        -- JSON array
  ALTER TABLE jobs ADD COLUMN held_from text;   -- the state a held job goes back to
  INSERT INTO job_counts (state, n) VALUES ('held', 0) ON CONFLICT DO NOTHING;
  -- a held job keeps its key taken: held is an active state
  DROP INDEX IF EXISTS jobs_key_active;
  CREATE UNIQUE INDEX jobs_key_active ON jobs (unique_key)
    WHERE unique_key IS NOT NULL
      AND state IN ('pending', 'blocked', 'processing', 'failed', 'held');
  -- a held job not started by its expires_at expires as a pending one does
  DROP INDEX IF EXISTS jobs_expiring;
  CREATE INDEX jobs_expiring ON jobs (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('pending', 'blocked', 'held');
  `,
  EVENTS_SQL,
  `
  -- a group-limited claim reads the queue's grouped jobs in the claim order,
  -- passing over the groups at their limit, so its cost does not grow with
  -- the number of groups (DESIGN.md "Flow control"); only grouped jobs pay
  CREATE INDEX jobs_group_order ON jobs (queue, priority DESC, next_run_at, seq)
    WHERE state IN ('pending', 'failed') AND grp IS NOT NULL;
  `,
];

/** The schema version this build writes. */
export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;
