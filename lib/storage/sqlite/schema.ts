import { EVENTS_SQL } from "./events.ts";

/**
 * The SQLite schema as forward migrations: migration i brings
 * `PRAGMA user_version` from i to i + 1. Never edit a released migration;
 * append a new one.
 */

/** Every migration in order; the schema version is their count. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    command TEXT NOT NULL,
    state TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL,
    max_retries INTEGER,
    timeout REAL,
    env TEXT,
    cwd TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    next_run_at INTEGER,
    last_error TEXT,
    worker_id TEXT,
    lease_expires_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0
  );
  -- claim: due jobs by priority, then due time
  CREATE INDEX jobs_due ON jobs (priority DESC, next_run_at, seq)
    WHERE state IN ('pending', 'failed');
  -- list, newest first, with or without filters
  CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);
  CREATE INDEX jobs_state_created ON jobs (state, created_at DESC, id DESC);
  CREATE INDEX jobs_queue_created ON jobs (queue, created_at DESC, id DESC);
  -- status: the next scheduled retry
  CREATE INDEX jobs_retry_due ON jobs (next_run_at) WHERE state = 'failed';
  -- leases: a worker's running jobs
  CREATE INDEX jobs_running ON jobs (worker_id) WHERE state = 'processing';

  -- counts per state kept in step so status is O(1) on millions of jobs;
  -- inserts add to it in jobInsertMany (one update per batch, not per row)
  CREATE TABLE job_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO job_counts (state, n) VALUES
    ('pending', 0), ('processing', 0), ('completed', 0),
    ('failed', 0), ('dead', 0), ('cancelled', 0);
  CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs
    WHEN OLD.state <> NEW.state BEGIN
      UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
      UPDATE job_counts SET n = n + 1 WHERE state = NEW.state;
    END;
  CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
  END;

  CREATE TABLE runs (
    seq INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    worker_id TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    outcome TEXT,
    exit_code INTEGER,
    signal TEXT,
    error TEXT,
    host TEXT,
    pgid INTEGER,
    proc_start TEXT,
    stdout BLOB,
    stderr BLOB
  );
  CREATE INDEX runs_job ON runs (job_id, attempt);
  CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;

  CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    count INTEGER NOT NULL,
    queues TEXT,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    stop_requested TEXT
  );

  CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `,
  `
  -- the next due time (idle workers' timers) without a scan of every waiting job
  CREATE INDEX IF NOT EXISTS jobs_next_due ON jobs (next_run_at)
    WHERE state IN ('pending', 'failed');
  `,
  `
  -- Every index costs ~12% of a batch insert. A queue filter walks the
  -- newest-first index instead (fast for common queues, a scan for rare
  -- ones). Ascending indexes read backwards serve ORDER BY ... DESC with
  -- the same plans and are cheaper to append to.
  DROP INDEX IF EXISTS jobs_queue_created;
  DROP INDEX IF EXISTS jobs_created;
  DROP INDEX IF EXISTS jobs_state_created;
  CREATE INDEX jobs_created ON jobs (created_at, id);
  CREATE INDEX jobs_state_created ON jobs (state, created_at, id);
  -- throughput counts by outcome from the index alone
  DROP INDEX IF EXISTS runs_finished;
  CREATE INDEX runs_finished ON runs (finished_at, outcome) WHERE finished_at IS NOT NULL;
  `,
  `
  -- what hosts a worker: \`worker stop\` signals plain worker processes, but a
  -- dashboard's workers only through the database, so the dashboard keeps serving
  ALTER TABLE workers ADD COLUMN role TEXT NOT NULL DEFAULT 'worker';
  `,
  `
  -- each host's clock against the store's, shown by status (0 on one machine)
  ALTER TABLE workers ADD COLUMN clock_offset_ms INTEGER NOT NULL DEFAULT 0;
  -- whose turn a maintenance pass is (the rescuer): one at a time across processes
  CREATE TABLE turns (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL)
    WITHOUT ROWID;
  `,
  `
  -- job flow (README.md "Job flow"): dependencies, unique keys, retry by exit code
  ALTER TABLE jobs ADD COLUMN after_ids TEXT;   -- JSON array, as given
  ALTER TABLE jobs ADD COLUMN unique_key TEXT;
  ALTER TABLE jobs ADD COLUMN retry_on TEXT;    -- JSON array
  -- dependencies not yet completed, kept while blocked: a completion
  -- decrements its dependents instead of rescanning every blocked job
  ALTER TABLE jobs ADD COLUMN deps_open INTEGER NOT NULL DEFAULT 0;
  -- at most one active job per key, whoever inserts it
  CREATE UNIQUE INDEX jobs_key_active ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending', 'blocked', 'processing', 'failed');
  -- every holder of a key, final ones too (retrying a dead job checks them)
  CREATE INDEX jobs_key ON jobs (unique_key) WHERE unique_key IS NOT NULL;
  -- dep_id first: a finishing job finds its dependents by the key's prefix
  CREATE TABLE job_deps (
    dep_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (dep_id, job_id)
  ) WITHOUT ROWID;
  CREATE INDEX job_deps_job ON job_deps (job_id);
  INSERT OR IGNORE INTO job_counts (state, n) VALUES ('blocked', 0);
  `,
  `
  -- queue controls (README.md "Queues"): a paused queue starts nothing; concurrency > 0
  -- caps its running jobs. The claim reads the rows that are paused or
  -- limited first, so with none it runs the plain statement.
  CREATE TABLE queues (
    name TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    concurrency INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  `,
  `
  -- schedules (README.md "Recurring jobs"): \`job\` is the template as JSON (a job's fields
  -- without id or times), so a job field added later needs no migration here
  CREATE TABLE schedules (
    name TEXT PRIMARY KEY,
    cron TEXT NOT NULL,
    tz TEXT NOT NULL,
    catch_up TEXT NOT NULL,
    overlap INTEGER NOT NULL,
    job TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    next_run_at INTEGER,
    last_run_at INTEGER,
    last_job_id TEXT,
    skipped INTEGER NOT NULL DEFAULT 0,
    missed INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- the firer's timer and its due list
  CREATE INDEX schedules_due ON schedules (next_run_at) WHERE paused = 0;
  `,
  `
  -- list order: newest first, ties by insertion order (seq), not by id, so
  -- a batch's jobs list as they were enqueued. Every SQLite index ends with
  -- the rowid (seq), so (created_at) is (created_at, seq).
  DROP INDEX IF EXISTS jobs_created;
  DROP INDEX IF EXISTS jobs_state_created;
  CREATE INDEX jobs_created ON jobs (created_at);
  CREATE INDEX jobs_state_created ON jobs (state, created_at);
  `,
  `
  -- flow control (README.md "Flow control"; DESIGN.md "Flow control")
  ALTER TABLE jobs ADD COLUMN grp TEXT;            -- the job's group
  ALTER TABLE jobs ADD COLUMN backoff_base REAL;   -- NULL: the setting
  ALTER TABLE jobs ADD COLUMN backoff_max REAL;
  ALTER TABLE jobs ADD COLUMN expires_at INTEGER;  -- not started by then: cancelled
  ALTER TABLE jobs ADD COLUMN after_any_ids TEXT;  -- JSON array, as given
  ALTER TABLE jobs ADD COLUMN unique_for REAL;     -- seconds the key stays taken after enqueue
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
  ALTER TABLE job_deps ADD COLUMN any_outcome INTEGER NOT NULL DEFAULT 0;
  -- rate limits: at most rate_limit starts in any window of rate_period_ms;
  -- group_concurrency caps the running jobs of each group of the queue
  ALTER TABLE queues ADD COLUMN rate_limit INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE queues ADD COLUMN rate_period_ms INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE queues ADD COLUMN group_concurrency INTEGER NOT NULL DEFAULT 0;
  -- the starts of rate-limited queues within their window (older ones are
  -- deleted by the claim that records new ones)
  CREATE TABLE queue_starts (queue TEXT NOT NULL, at INTEGER NOT NULL);
  CREATE INDEX queue_starts_queue_at ON queue_starts (queue, at);
  `,
  `
  -- a worker's process identity (README.md "Many machines: PostgreSQL"): its start
  -- time beside the pid, and the pid space (boot id, pid namespace) a host
  -- must share to judge that pid
  ALTER TABLE workers ADD COLUMN proc_start TEXT;
  ALTER TABLE workers ADD COLUMN pid_space TEXT;
  `,
  `
  -- operator controls (README "Operating a queue"): tags, and the held state
  ALTER TABLE jobs ADD COLUMN tags TEXT;        -- JSON array
  ALTER TABLE jobs ADD COLUMN held_from TEXT;   -- the state a held job goes back to
  INSERT OR IGNORE INTO job_counts (state, n) VALUES ('held', 0);
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
  -- the number of groups (DESIGN.md "Flow control"); only grouped jobs pay.
  -- It holds every column that read needs (grp, state), so no table row is read
  CREATE INDEX jobs_group_order ON jobs (queue, priority DESC, next_run_at, seq, grp, state)
    WHERE state IN ('pending', 'failed') AND grp IS NOT NULL;
  `,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;
