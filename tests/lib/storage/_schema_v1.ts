/**
 * The schema as version 1 shipped (commit 6466a50, "Foundation"), frozen
 * here so that the SQLite tests can make a database exactly as that build
 * did and check that today's build still opens and uses it. Never edit.
 */

/** Migration 0 as released: brings `user_version` from 0 to 1. */
export const SCHEMA_V1 = `
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
  `;
