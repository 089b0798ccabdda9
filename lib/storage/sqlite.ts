/**
 * The SQLite store on Deno's built-in `node:sqlite`. All SQLite SQL lives
 * here. One connection per process; WAL mode so readers never block the
 * writer; every write is one `BEGIN IMMEDIATE` transaction, so the busy
 * timeout covers lock waits and nothing is ever half done.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { type Config, type ConfigKey, defaultConfig, parseConfigKey } from "../config.ts";
import {
  ConflictError,
  errorMessage,
  jobNotFound,
  QueuectlError,
  scheduleNameTaken,
  scheduleNotFound,
  StorageError,
  UsageError,
} from "../errors.ts";
import {
  type Job,
  JOB_STATES,
  type JobState,
  type JobWithRuns,
  type NewJob,
  type OnConflict,
  type RunOutcome,
  type RunOutput,
} from "../job.ts";
import type { NewSchedule, Schedule } from "../schedule.ts";
import { planCancel, planRetry } from "../state.ts";
import {
  cascadeError,
  checkDependency,
  checkRetryDependency,
  distinctIds,
  keyHeld,
  planKeyConflict,
  replacedError,
} from "../job_flow.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./sqlite/schema.ts";
import {
  type ClaimedJob,
  type ClaimParams,
  type FinishedCount,
  type HeartbeatReply,
  type InsertResult,
  type JobListParams,
  type JobPage,
  PRUNABLE_STATES,
  type PruneCounts,
  type PruneParams,
  type QueueInfo,
  type RecordResult,
  type RunFinish,
  type RunOutputUpdate,
  type RunStart,
  type ScheduleFire,
  type ScheduleFireResult,
  type Storage,
  type StrandedJob,
  type WatchOptions,
  type WorkerInfo,
  type WorkerRole,
} from "./storage.ts";

import {
  decodeCursor,
  encodeCursor,
  type Row,
  text,
  toClaimed,
  toJob,
  toQueues,
  toRun,
  toSchedule,
  toWorker,
} from "./_rows.ts";

const BUSY_TIMEOUT_MS = 5000;

/** What a commit tells watchers: work may be claimable (everyone hears), or only jobs ended. */
type WakeKind = "jobs" | "ends";
/** Which wake file a write touches, or how its result chooses one (`null`: none). */
type Wake<T> = WakeKind | null | ((result: T) => WakeKind | null);

/** SQLite result codes we explain to the user (primary codes, low byte). */
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_CORRUPT = 11;
const SQLITE_CANTOPEN = 14;
const SQLITE_CONSTRAINT = 19;
const SQLITE_NOTADB = 26;

/** SQLITE_BUSY or SQLITE_LOCKED, also where the driver gives only the message. */
function isLocked(error: unknown): boolean {
  const code = sqliteCode(error);
  if (code !== null) return code === SQLITE_BUSY || code === SQLITE_LOCKED;
  return error instanceof Error && /database (table )?is locked/.test(error.message);
}

function sqliteCode(error: unknown): number | null {
  if (error && typeof error === "object" && "errcode" in error) {
    const code = (error as { errcode: unknown }).errcode;
    if (typeof code === "number") return code & 0xff;
  }
  return null;
}

const INSERT_JOBS = `INSERT INTO jobs (id, command, state, queue, priority, max_retries, timeout,
  env, cwd, created_at, updated_at, next_run_at, retry_on) VALUES `;
const JOB_ROW = "(?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const JOB_ROW_PARAMS = 12;
/** Rows per multi-row INSERT of a batch: 5,500 parameters, under SQLite's limit of 32,766. */
const INSERT_CHUNK_ROWS = 500;
const INSERT_JOB = INSERT_JOBS + JOB_ROW;
const INSERT_JOB_CHUNK = INSERT_JOBS + Array(INSERT_CHUNK_ROWS).fill(JOB_ROW).join(", ");

/** A schedule's job (no dependencies), with its key; a taken id or an active key inserts nothing. */
const INSERT_SCHEDULED_JOB = `INSERT INTO jobs (id, command, state, queue, priority, max_retries,
  timeout, env, cwd, created_at, updated_at, next_run_at, retry_on, unique_key)
  VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;

/** Writes the parameters of one job's row into `args` from `at`; returns `args`. */
function setJobRow(args: SQLInputValue[], at: number, job: NewJob, now: number): SQLInputValue[] {
  args[at] = job.id;
  args[at + 1] = job.command;
  args[at + 2] = job.queue;
  args[at + 3] = job.priority;
  args[at + 4] = job.max_retries;
  args[at + 5] = job.timeout;
  args[at + 6] = job.env === null ? null : JSON.stringify(job.env);
  args[at + 7] = job.cwd;
  args[at + 8] = now;
  args[at + 9] = now;
  args[at + 10] = job.run_at;
  args[at + 11] = job.retry_on === null ? null : JSON.stringify(job.retry_on);
  return args;
}

/** A job with dependencies or a key, inserted one by one: its state and open count too. */
const INSERT_FLOW_JOB = `INSERT INTO jobs (id, command, state, queue, priority, max_retries,
  timeout, env, cwd, created_at, updated_at, next_run_at, retry_on, after_ids, unique_key, deps_open)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The active states as SQL, for the partial index on keys (the planner needs it literally). */
const ACTIVE = "('pending', 'blocked', 'processing', 'failed')";

/** The error for an id that exists already. */
function duplicateId(id: string): ConflictError {
  return new ConflictError(
    `Cannot enqueue job "${id}": a job with this id already exists`,
    "choose another id, or omit it to have one generated",
  );
}

/**
 * The folder a file path names, as `dirname` would give it. Not from
 * `node:path`: loading Node's layer costs every command ~12 ms of start-up.
 */
function parentFolder(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  if (slash < 0) return ".";
  return slash === 0 ? "/" : trimmed.slice(0, slash);
}

/** Turns a driver error into a one-line StorageError that says what to do. */
export function toStorageError(error: unknown, path: string): QueuectlError {
  if (error instanceof QueuectlError) return error;
  const detail = errorMessage(error);
  // Errors from opening (and from changing the journal mode) carry no result code, only the message.
  const code = sqliteCode(error) ??
    (isLocked(error)
      ? SQLITE_BUSY
      : /unable to open database file/.test(detail)
      ? SQLITE_CANTOPEN
      : /file is not a database/.test(detail)
      ? SQLITE_NOTADB
      : null);
  switch (code) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return new StorageError(
        `Database "${path}" is locked by another process (waited ${BUSY_TIMEOUT_MS / 1000} s)`,
        "try again, or stop the process holding the lock",
      );
    case SQLITE_READONLY:
      return new StorageError(
        `Database "${path}" is read-only`,
        "check the permissions of the file and its folder, or pass --db with a writable path",
      );
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return new StorageError(
        `Database "${path}" is not a queuectl database or is corrupt`,
        "pass --db with another path, or restore it from a backup",
      );
    case SQLITE_CANTOPEN:
      return new StorageError(
        `Cannot open database "${path}"`,
        "check that the path is a file in a folder you can write",
      );
  }
  return new StorageError(`Database "${path}" failed: ${detail}`);
}

/**
 * The SQLite implementation of {@linkcode Storage}.
 *
 * The hot queries name their partial index (`INDEXED BY`): without
 * statistics the planner prefers `jobs_state_created` and then sorts every
 * waiting job, which is fine on ten jobs and ruinous on a million.
 */
export class SqliteStorage implements Storage {
  readonly location: string;
  #db: DatabaseSync;
  #engine: string | undefined;
  #statements = new Map<string, StatementSync>();
  /** Files beside the database that commits touch, for {@linkcode watchChanges}. */
  #wakePaths: Record<WakeKind, string> | null;
  #wakeFiles = new Map<WakeKind, Deno.FsFile>();
  /** Per file, the one watch shared by every {@linkcode watchChanges} caller, and their callbacks. */
  #watches = new Map<WakeKind, { watcher: Deno.FsWatcher; listeners: Set<() => void> }>();
  #wakeByte = new Uint8Array(1);

  private constructor(location: string, db: DatabaseSync) {
    this.location = location;
    this.#db = db;
    this.#wakePaths = location === ":memory:"
      ? null
      : { jobs: `${location}.wake`, ends: `${location}.ends` };
  }

  /** Opens (creating when missing) the database at `path` and migrates it forward. */
  static open(path: string): SqliteStorage {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const store = new SqliteStorage(path, db);
      store.#migrate();
      db.exec("PRAGMA synchronous = NORMAL");
      // 64 MiB of page cache (allocated only as used): a batch of 100,000
      // inserts touches every index, and spilling mid-transaction is slow.
      db.exec("PRAGMA cache_size = -65536");
      return store;
    } catch (error) {
      try {
        db?.close();
      } catch { /* already failing; the first error is the one to report */ }
      throw toStorageError(error, path);
    }
  }

  #migrate(): void {
    const version = this.#db.prepare("PRAGMA user_version").get()!.user_version as number;
    if (version > SCHEMA_VERSION) {
      throw new StorageError(
        `Database "${this.location}" was written by a newer queuectl (schema ${version}, this one knows ${SCHEMA_VERSION})`,
        "upgrade queuectl",
      );
    }
    this.#useWal();
    if (version === SCHEMA_VERSION) return;
    this.#write(() => {
      // Re-read inside the lock: another process may have migrated meanwhile.
      const current = this.#db.prepare("PRAGMA user_version").get()!.user_version as number;
      for (let i = current; i < SCHEMA_VERSION; i++) this.#db.exec(MIGRATIONS[i]!);
      this.#db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    });
  }

  /**
   * Switches the database to WAL (it stays so: reading the mode is cheap,
   * setting it takes the database for itself once). SQLite does not wait
   * for that lock, so when another process has the database open meanwhile,
   * as when two processes create it at once, this retries until the busy
   * timeout has passed.
   */
  #useWal(): void {
    const deadline = Date.now() + BUSY_TIMEOUT_MS;
    for (let pauseMs = 1;; pauseMs = Math.min(pauseMs * 2, 50)) {
      try {
        if (this.#db.prepare("PRAGMA journal_mode").get()!.journal_mode === "wal") return;
        this.#db.exec("PRAGMA journal_mode = WAL");
        return;
      } catch (error) {
        if (!isLocked(error) || Date.now() > deadline) throw error;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseMs);
      }
    }
  }

  #stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#stmt(sql).all(...params) as Row[];
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#stmt(sql).get(...params) as Row | undefined;
  }

  #run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.#stmt(sql).run(...params).changes);
  }

  /**
   * Runs `fn` in one write transaction; any throw rolls everything back.
   * After the commit it touches the wake file `wake` names, or the one
   * `wake(result)` chooses: `jobs` (the default) for a write that may make
   * a job claimable, `ends` for one that only ended jobs, `null` for a
   * write no watcher needs to hear of (claims, heartbeats, process details,
   * output snapshots; watchers re-read at least once a second anyway).
   */
  #write<T>(fn: () => T, wake: Wake<T> = "jobs"): T {
    try {
      this.#db.exec("BEGIN IMMEDIATE");
    } catch (error) {
      throw toStorageError(error, this.location);
    }
    let result: T;
    try {
      result = fn();
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw toStorageError(error, this.location);
    }
    const kind = typeof wake === "function" ? wake(result) : wake;
    if (kind) this.#touchWakeFile(kind);
    return result;
  }

  /**
   * Tells watchers of `kind` that a commit happened: one byte rewritten in
   * place through a kept descriptor (no truncation, which makes ext4 flush
   * on close; just an inotify modify event).
   */
  #touchWakeFile(kind: WakeKind): void {
    if (this.#wakePaths === null) return;
    try {
      let file = this.#wakeFiles.get(kind);
      if (!file) {
        file = Deno.openSync(this.#wakePaths[kind], { write: true, create: true });
        this.#wakeFiles.set(kind, file);
      }
      this.#wakeByte[0] = (this.#wakeByte[0]! + 1) & 0xff;
      file.seekSync(0, Deno.SeekMode.Start);
      file.writeSync(this.#wakeByte);
    } catch {
      // Only a hint for watchers; they poll slowly as well.
    }
  }

  /**
   * Watches the wake files, never the database's own files: the file
   * watcher opens and closes the files it reports on, and closing any
   * descriptor of a SQLite file drops this process's POSIX locks on it
   * (which lets another process delete the WAL under us). Every write that
   * may make a job claimable touches `<db>.wake`; a finish that only ends
   * jobs touches `<db>.ends`, which only `jobEnds` watches hear, so a
   * drain does not wake idle workers (nor its own worker) once a job. One
   * file watch per file serves every caller of this store: it opens, stats
   * and resolves the file once per event and watch.
   */
  watchChanges(onChange: () => void, options: WatchOptions = {}): { close(): void } {
    const kinds: WakeKind[] = options.jobEnds ? ["jobs", "ends"] : ["jobs"];
    const listener = () => onChange(); // one entry per call, even for the same function
    const joined = kinds.filter((kind) => this.#listen(kind, listener));
    return {
      close: () => {
        for (const kind of joined) this.#unlisten(kind, listener);
      },
    };
  }

  /** Adds `listener` to the watch of `kind`, starting it; false where there can be none. */
  #listen(kind: WakeKind, listener: () => void): boolean {
    if (this.#wakePaths === null) return false; // no watch here: callers poll slowly as well
    let watch = this.#watches.get(kind);
    if (!watch) {
      const path = this.#wakePaths[kind];
      let watcher: Deno.FsWatcher;
      try {
        Deno.writeFileSync(path, this.#wakeByte, { create: true, append: true });
        watcher = Deno.watchFs(path, { recursive: false });
      } catch {
        return false;
      }
      const started = { watcher, listeners: new Set<() => void>() };
      watch = started;
      this.#watches.set(kind, started);
      let queued = false;
      (async () => {
        try {
          for await (const event of watcher) {
            // A writer closing the file (at the end of each CLI command) says nothing new.
            if (queued || event.kind === "access") continue;
            queued = true;
            queueMicrotask(() => {
              queued = false;
              for (const callback of [...started.listeners]) callback();
            });
          }
        } catch {
          // closed
        }
      })();
    }
    watch.listeners.add(listener);
    return true;
  }

  #unlisten(kind: WakeKind, listener: () => void): void {
    const watch = this.#watches.get(kind);
    if (!watch?.listeners.delete(listener) || watch.listeners.size > 0) return;
    this.#watches.delete(kind);
    try {
      watch.watcher.close();
    } catch { /* already closed */ }
  }

  #read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw toStorageError(error, this.location);
    }
  }

  /** Runs `fn` now; its result or its error arrives as a promise, never as a synchronous throw. */
  #promise<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  now(): number {
    return Date.now();
  }

  get engine(): string {
    // Read when first asked: most commands never show it.
    this.#engine ??= `SQLite ${
      this.#read(() => this.#get("SELECT sqlite_version() AS v")?.v as string)
    }`;
    return this.#engine;
  }

  close(): Promise<void> {
    for (const { watcher } of this.#watches.values()) {
      try {
        watcher.close();
      } catch { /* already closed */ }
    }
    this.#watches.clear();
    for (const file of this.#wakeFiles.values()) file.close();
    this.#wakeFiles.clear();
    if (this.#db.isOpen) this.#db.close();
    this.#statements.clear();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  jobInsertMany(
    params: { jobs: NewJob[]; now: number; onConflict?: OnConflict | undefined },
  ): Promise<InsertResult> {
    const { jobs, now } = params;
    return this.#promise(() =>
      this.#write(() => {
        if (jobs.some((job) => job.after !== null || job.key !== null)) {
          return this.#insertFlow(jobs, now, params.onConflict ?? "keep");
        }
        // Each call into node:sqlite costs more than the row it inserts, so
        // full chunks go in as one multi-row INSERT each (prepared only for
        // a batch that has one: a single job need not pay for it).
        const args: SQLInputValue[] = [];
        let i = 0;
        for (; i + INSERT_CHUNK_ROWS <= jobs.length; i += INSERT_CHUNK_ROWS) {
          for (let k = 0; k < INSERT_CHUNK_ROWS; k++) {
            setJobRow(args, k * JOB_ROW_PARAMS, jobs[i + k]!, now);
          }
          try {
            this.#stmt(INSERT_JOB_CHUNK).run(...args);
          } catch (error) {
            // The failed statement inserted nothing; row by row names the id.
            if (sqliteCode(error) === SQLITE_CONSTRAINT) break;
            throw error;
          }
        }
        const insert = this.#stmt(INSERT_JOB);
        const row: SQLInputValue[] = new Array(JOB_ROW_PARAMS);
        for (; i < jobs.length; i++) {
          const job = jobs[i]!;
          try {
            insert.run(...setJobRow(row, 0, job, now));
          } catch (error) {
            if (sqliteCode(error) === SQLITE_CONSTRAINT) throw duplicateId(job.id);
            throw error;
          }
        }
        this.#run("UPDATE job_counts SET n = n + ? WHERE state = 'pending'", jobs.length);
        return { inserted: jobs.length, kept: [], blocked: [], replaced: [] };
      })
    );
  }

  /** Inserts jobs with dependencies or keys one by one, applying SPEC 12's rules. */
  #insertFlow(jobs: NewJob[], now: number, onConflict: OnConflict): InsertResult {
    const result: InsertResult = { inserted: 0, kept: [], blocked: [], replaced: [] };
    const insert = this.#stmt(INSERT_FLOW_JOB);
    const insertDep = this.#stmt("INSERT OR IGNORE INTO job_deps (dep_id, job_id) VALUES (?, ?)");
    let pending = 0;
    for (const job of jobs) {
      if (job.key !== null) {
        const holder = this.#get(
          `SELECT id, state FROM jobs INDEXED BY jobs_key_active
           WHERE unique_key = ? AND state IN ${ACTIVE}`,
          job.key,
        );
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
            continue;
          }
          this.#cancel(holder.id as string, now, replacedError(job.id));
          result.replaced.push(holder.id as string);
        }
      }
      const after = job.after === null ? [] : distinctIds(job.after);
      let open = 0;
      for (const dep of after) {
        const row = this.#get("SELECT state FROM jobs WHERE id = ?", dep);
        if (checkDependency(job.id, dep, (row?.state as JobState | undefined) ?? null)) open++;
      }
      const args = setJobRow(new Array(JOB_ROW_PARAMS), 0, job, now);
      args.splice(2, 0, open > 0 ? "blocked" : "pending");
      try {
        insert.run(
          ...args,
          job.after === null ? null : JSON.stringify(job.after),
          job.key,
          open,
        );
      } catch (error) {
        if (sqliteCode(error) === SQLITE_CONSTRAINT) throw duplicateId(job.id);
        throw error;
      }
      for (const dep of after) insertDep.run(dep, job.id);
      if (open > 0) result.blocked.push(job.id);
      else pending++;
    }
    this.#run("UPDATE job_counts SET n = n + ? WHERE state = 'pending'", pending);
    this.#run("UPDATE job_counts SET n = n + ? WHERE state = 'blocked'", result.blocked.length);
    result.inserted = pending + result.blocked.length;
    return result;
  }

  /**
   * Cancels one job that is not running (optionally saying why) and,
   * in turn, its blocked dependents.
   */
  #cancel(id: string, now: number, error: string | null): void {
    const row = this.#get(
      `UPDATE jobs SET state = 'cancelled', next_run_at = NULL, updated_at = ?,
         last_error = coalesce(?, last_error)
       WHERE id = ? AND state IN ('pending', 'blocked', 'failed') RETURNING last_error`,
      now,
      error,
      id,
    );
    if (row) {
      this.#cascade([{ id, state: "cancelled", error: row.last_error as string | null }], now);
    }
  }

  /**
   * Moves dependents on after their dependencies ended: `completed` ones
   * unblock the dependents whose last open dependency they were; `dead`
   * and `cancelled` ones cancel their blocked dependents, and theirs in
   * turn. Index probes on `job_deps` only: no scan of the blocked jobs.
   * Returns how many dependents it unblocked.
   */
  #settleDependents(
    ended: { id: string; state: JobState; error: string | null }[],
    now: number,
  ): number {
    let unblocked = 0;
    const completed = ended.filter((e) => e.state === "completed").map((e) => e.id);
    if (completed.length > 0) {
      unblocked = this.#run(
        `UPDATE jobs SET deps_open = jobs.deps_open - d.n, updated_at = ?,
           state = CASE WHEN jobs.deps_open - d.n <= 0 THEN 'pending' ELSE 'blocked' END,
           next_run_at = CASE WHEN jobs.deps_open - d.n <= 0
             THEN max(jobs.next_run_at, ?) ELSE jobs.next_run_at END
         FROM (SELECT job_id, count(*) AS n FROM job_deps
               WHERE dep_id IN (SELECT value FROM json_each(?)) GROUP BY job_id) AS d
         WHERE jobs.id = d.job_id AND jobs.state = 'blocked'`,
        now,
        now,
        JSON.stringify(completed),
      );
    }
    this.#cascade(ended.filter((e) => e.state === "dead" || e.state === "cancelled"), now);
    return unblocked;
  }

  #cascade(ended: { id: string; state: JobState; error: string | null }[], now: number): void {
    let frontier = ended;
    while (frontier.length > 0) {
      const next: typeof frontier = [];
      for (const dep of frontier) {
        const error = cascadeError(dep.id, dep.state, dep.error);
        for (
          const row of this.#all(
            `UPDATE jobs SET state = 'cancelled', next_run_at = NULL, last_error = ?, updated_at = ?
             WHERE id IN (SELECT job_id FROM job_deps WHERE dep_id = ?) AND state = 'blocked'
             RETURNING id`,
            error,
            now,
            dep.id,
          )
        ) next.push({ id: row.id as string, state: "cancelled", error });
      }
      frontier = next;
    }
  }

  jobGet(params: { id: string }): Promise<Job | null> {
    return this.#promise(() =>
      this.#read(() => {
        const row = this.#get("SELECT * FROM jobs WHERE id = ?", params.id);
        return row ? toJob(row) : null;
      })
    );
  }

  jobGetWithRuns(params: { id: string }): Promise<JobWithRuns | null> {
    return this.#promise(() =>
      this.#read(() => {
        const row = this.#get("SELECT * FROM jobs WHERE id = ?", params.id);
        if (!row) return null;
        const runs = this.#all(
          `SELECT attempt, started_at, finished_at, outcome, exit_code, signal, error, worker_id
         FROM runs WHERE job_id = ? ORDER BY seq`,
          params.id,
        ).map(toRun);
        const job = toJob(row);
        const states = new Map<string, JobState>();
        if (job.after !== null) {
          for (
            const dep of this.#all(
              "SELECT id, state FROM jobs WHERE id IN (SELECT value FROM json_each(?))",
              JSON.stringify(job.after),
            )
          ) states.set(dep.id as string, dep.state as JobState);
        }
        const dependencies = distinctIds(job.after ?? []).map((id) => ({
          id,
          state: states.get(id) ?? null,
        }));
        const dependents = this.#all(
          `SELECT j.id, j.state FROM job_deps d JOIN jobs j ON j.id = d.job_id
           WHERE d.dep_id = ? ORDER BY j.created_at, j.seq`,
          params.id,
        ).map((dep) => ({ id: dep.id as string, state: dep.state as JobState }));
        return { ...job, runs, dependencies, dependents };
      })
    );
  }

  jobGetMany(params: { ids: string[] }): Promise<Job[]> {
    return this.#promise(() =>
      this.#read(() =>
        this.#all(
          "SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(?))",
          JSON.stringify(params.ids),
        ).map(toJob)
      )
    );
  }

  jobList(params: JobListParams): Promise<JobPage> {
    return this.#promise(() =>
      this.#read(() => {
        const where: string[] = [];
        const args: SQLInputValue[] = [];
        if (params.state) {
          where.push("state = ?");
          args.push(params.state);
        }
        if (params.queue) {
          where.push("queue = ?");
          args.push(params.queue);
        }
        if (params.search) {
          const like = `%${params.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
          where.push("(id LIKE ? ESCAPE '\\' OR command LIKE ? ESCAPE '\\')");
          args.push(like, like);
        }
        if (params.cursor) {
          const cursor = decodeCursor(params.cursor);
          if (cursor) {
            where.push("(created_at < ? OR (created_at = ? AND seq < ?))");
            args.push(cursor.createdAt, cursor.createdAt, cursor.seq);
          }
        }
        const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY created_at DESC, seq DESC LIMIT ?`;
        const rows = this.#all(sql, ...args, params.limit + 1);
        const page = rows.slice(0, params.limit);
        const last = page[page.length - 1];
        return {
          jobs: page.map(toJob),
          nextCursor: rows.length > params.limit && last
            ? encodeCursor(last.created_at as number, last.seq as number)
            : null,
        };
      })
    );
  }

  jobCountByState(): Promise<Record<JobState, number>> {
    return this.#promise(() => this.#read(() => this.#counts()));
  }

  #counts(): Record<JobState, number> {
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const row of this.#all("SELECT state, n FROM job_counts")) {
      counts[row.state as JobState] = row.n as number;
    }
    return counts;
  }

  #requireJob(id: string): Row {
    const row = this.#get("SELECT * FROM jobs WHERE id = ?", id);
    if (!row) throw jobNotFound(id);
    return row;
  }

  jobRetry(
    params: { ids: string[]; now: number; dlqOnly?: boolean | undefined },
  ): Promise<Job[]> {
    return this.#promise(() =>
      this.#write(() => {
        // A dependency retried in the same call counts as open, whatever the order.
        const retried = new Set(params.ids);
        for (const id of params.ids) {
          const row = this.#requireJob(id);
          const plan = planRetry(id, row.state as JobState, params);
          if (row.unique_key !== null) this.#requireKeyFree(id, row.unique_key as string);
          // A cancelled job may wait for dependencies again: count the open ones.
          let open = 0;
          if (row.state === "cancelled") {
            for (
              const dep of this.#all(
                `SELECT d.dep_id, j.state FROM job_deps d LEFT JOIN jobs j ON j.id = d.dep_id
                 WHERE d.job_id = ?`,
                id,
              )
            ) {
              // A pruned dependency was final; a dead or cancelled one is refused.
              if (dep.state === null || dep.state === "completed") continue;
              if (!retried.has(dep.dep_id as string)) {
                checkRetryDependency(id, dep.dep_id as string, dep.state as JobState);
              }
              open++;
            }
          }
          this.#run(
            `UPDATE jobs SET state = ?, next_run_at = ?, updated_at = ?, deps_open = ?,
             attempts = CASE WHEN ? THEN 0 ELSE attempts END
           WHERE id = ?`,
            open > 0 ? "blocked" : plan.state,
            params.now,
            params.now,
            open,
            plan.resetAttempts ? 1 : 0,
            id,
          );
        }
        return params.ids.map((id) => toJob(this.#requireJob(id)));
      })
    );
  }

  /** Refuses to make job `id` active while another active job holds its key. */
  #requireKeyFree(id: string, key: string): void {
    const holder = this.#get(
      `SELECT id FROM jobs INDEXED BY jobs_key_active
       WHERE unique_key = ? AND state IN ${ACTIVE} AND id <> ?`,
      key,
      id,
    );
    if (holder) throw keyHeld(id, key, holder.id as string);
  }

  jobRetryAllDead(params: { now: number }): Promise<number> {
    return this.#promise(() =>
      this.#write(() =>
        // A dead job whose key another job holds (an active one, or a newer
        // dead one retried here too) stays dead: a key has one active job.
        this.#run(
          `UPDATE jobs SET state = 'pending', attempts = 0, next_run_at = ?, updated_at = ?
         WHERE state = 'dead' AND (unique_key IS NULL OR NOT EXISTS (
           SELECT 1 FROM jobs o INDEXED BY jobs_key WHERE o.unique_key = jobs.unique_key
             AND o.id <> jobs.id
             AND (o.state IN ${ACTIVE} OR (o.state = 'dead' AND o.seq > jobs.seq))))`,
          params.now,
          params.now,
        )
      )
    );
  }

  jobCancel(params: { ids: string[]; now: number }): Promise<Job[]> {
    return this.#promise(() =>
      this.#write(() => {
        // Plans from the states before the call: cancelling a dependency
        // may cancel a later id by cascade, which is then already done.
        const plans = params.ids.map((id) =>
          planCancel(id, this.#requireJob(id).state as JobState)
        );
        for (const [i, id] of params.ids.entries()) {
          if (plans[i] === "cancel") {
            this.#cancel(id, params.now, null);
          } else {
            this.#run(
              "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?",
              params.now,
              id,
            );
          }
        }
        return params.ids.map((id) => toJob(this.#requireJob(id)));
      })
    );
  }

  jobDeleteDead(params: { olderThan?: number | undefined }): Promise<number> {
    return this.#promise(() =>
      this.#write(() => {
        const cutoff = params.olderThan ?? Number.MAX_SAFE_INTEGER;
        this.#run(
          `DELETE FROM runs WHERE job_id IN
           (SELECT id FROM jobs WHERE state = 'dead' AND updated_at < ?)`,
          cutoff,
        );
        // Their own dependency edges; a dependent's edge to one stays (shown as pruned).
        this.#run(
          `DELETE FROM job_deps WHERE job_id IN
           (SELECT id FROM jobs WHERE state = 'dead' AND updated_at < ?)`,
          cutoff,
        );
        return this.#run("DELETE FROM jobs WHERE state = 'dead' AND updated_at < ?", cutoff);
      })
    );
  }

  jobPrune(params: PruneParams): Promise<PruneCounts> {
    return this.#promise(() => {
      const counts: PruneCounts = { completed: 0, cancelled: 0, dead: 0 };
      const states = PRUNABLE_STATES.filter((state) => typeof params.before[state] === "number");
      if (params.dryRun) {
        return this.#read(() => {
          for (const state of states) {
            counts[state] = this.#get(
              `SELECT count(*) AS n FROM jobs INDEXED BY jobs_state_created
               WHERE state = ? AND updated_at < ?`,
              state,
              params.before[state]!,
            )!.n as number;
          }
          return counts;
        });
      }
      return this.#write(() => {
        let room = params.limit ?? Number.MAX_SAFE_INTEGER;
        for (const state of states) {
          if (room <= 0) break;
          const rows = this.#all(
            `SELECT seq, id FROM jobs INDEXED BY jobs_state_created
             WHERE state = ? AND updated_at < ? LIMIT ?`,
            state,
            params.before[state]!,
            room,
          );
          if (rows.length === 0) continue;
          const ids = JSON.stringify(rows.map((r) => r.id));
          this.#run("DELETE FROM runs WHERE job_id IN (SELECT value FROM json_each(?))", ids);
          // Its own dependency edges; a dependent's edge to it stays (shown as pruned).
          this.#run("DELETE FROM job_deps WHERE job_id IN (SELECT value FROM json_each(?))", ids);
          counts[state] = this.#run(
            "DELETE FROM jobs WHERE seq IN (SELECT value FROM json_each(?)) AND state = ?",
            JSON.stringify(rows.map((r) => r.seq)),
            state,
          );
          room -= rows.length;
        }
        return counts;
      }, null);
    });
  }

  jobClaim(params: ClaimParams): Promise<ClaimedJob[]> {
    return this.#promise(() => this.#write(() => this.#claim(params), null));
  }

  /** The claim, inside a write transaction. */
  #claim(params: ClaimParams): ClaimedJob[] {
    const { workerId, now } = params;
    // Paused or limited queues, read inside the claim's write lock, so
    // a limit holds across every process. With none (the usual case)
    // the claim is the one plain statement.
    const controls = this.#all(
      "SELECT name, paused, concurrency FROM queues WHERE paused = 1 OR concurrency > 0",
    );
    let rows: Row[];
    if (controls.length === 0) {
      rows = this.#claimWhere(params, "", [], params.limit);
    } else {
      const held = JSON.stringify(controls.map((c) => c.name));
      rows = this.#claimWhere(
        params,
        "AND queue NOT IN (SELECT value FROM json_each(?))",
        [held],
        params.limit,
      );
      for (const control of controls) {
        const name = control.name as string;
        if (control.paused || (params.queues && !params.queues.includes(name))) continue;
        const running = this.#get(
          "SELECT count(*) AS n FROM jobs WHERE state = 'processing' AND queue = ?",
          name,
        )!.n as number;
        const room = Math.min(
          params.limit - rows.length,
          (control.concurrency as number) - running,
        );
        if (room > 0) rows.push(...this.#claimWhere(params, "AND queue = ?", [name], room));
      }
    }
    const insertRun = this.#stmt(
      "INSERT INTO runs (job_id, attempt, worker_id, started_at) VALUES (?, ?, ?, ?)",
    );
    for (const row of rows) {
      insertRun.run(row.id as string, row.attempts as number, workerId, now);
    }
    return toClaimed(rows);
  }

  /** The claim's one statement: up to `limit` due jobs, also matching `filter`. */
  #claimWhere(
    params: { workerId: string; queues: string[] | null; now: number; leaseMs: number },
    filter: string,
    filterArgs: SQLInputValue[],
    limit: number,
  ): Row[] {
    const { now } = params;
    const queueFilter = params.queues ? "AND queue IN (SELECT value FROM json_each(?))" : "";
    const args: SQLInputValue[] = [params.workerId, now + params.leaseMs, now, now];
    if (params.queues) args.push(JSON.stringify(params.queues));
    args.push(...filterArgs, limit);
    return this.#all(
      `UPDATE jobs SET state = 'processing', attempts = attempts + 1, worker_id = ?,
         lease_expires_at = ?, updated_at = ?, cancel_requested = 0
       WHERE seq IN (
         SELECT seq FROM jobs INDEXED BY jobs_due
         WHERE state IN ('pending', 'failed') AND next_run_at <= ? ${queueFilter} ${filter}
         ORDER BY priority DESC, next_run_at, seq LIMIT ?)
       RETURNING *`,
      ...args,
    );
  }

  jobNextDueAt(params: { queues: string[] | null }): Promise<number | null> {
    return this.#promise(() =>
      this.#read(() => {
        const row = params.queues
          ? this.#get(
            `SELECT next_run_at AS at FROM jobs INDEXED BY jobs_next_due
           WHERE state IN ('pending', 'failed') AND queue IN (SELECT value FROM json_each(?))
           ORDER BY next_run_at LIMIT 1`,
            JSON.stringify(params.queues),
          )
          : this.#get(
            `SELECT next_run_at AS at FROM jobs INDEXED BY jobs_next_due
           WHERE state IN ('pending', 'failed') ORDER BY next_run_at LIMIT 1`,
          );
        return (row?.at as number | null | undefined) ?? null;
      })
    );
  }

  jobListStranded(params: { now: number; workerIds: string[] }): Promise<StrandedJob[]> {
    return this.#promise(() =>
      this.#read(() =>
        this.#all(
          `SELECT j.*, r.started_at AS run_started_at, r.host AS run_host, r.pgid AS run_pgid,
           r.proc_start AS run_proc_start
         FROM jobs j
         LEFT JOIN runs r ON r.seq = (
           SELECT max(seq) FROM runs WHERE job_id = j.id AND attempt = j.attempts)
         WHERE j.state = 'processing'
           AND (j.lease_expires_at < ? OR j.worker_id IN (SELECT value FROM json_each(?)))`,
          params.now,
          JSON.stringify(params.workerIds),
        ).map((row) => ({
          ...toJob(row),
          attempt: row.attempts as number,
          started_at: (row.run_started_at as number | null) ?? (row.updated_at as number),
          host: row.run_host as string | null,
          pgid: row.run_pgid as number | null,
          proc_start: row.run_proc_start as string | null,
        }))
      )
    );
  }

  #recordStarts(starts: RunStart[]): void {
    for (const s of starts) {
      this.#run(
        `UPDATE runs SET host = ?, pgid = ?, proc_start = ?
         WHERE job_id = ? AND attempt = ? AND worker_id = ? AND finished_at IS NULL`,
        s.host,
        s.pgid,
        s.procStart,
        s.id,
        s.attempt,
        s.workerId,
      );
    }
  }

  #recordOutputs(updates: RunOutputUpdate[]): void {
    for (const u of updates) {
      this.#run(
        `UPDATE runs SET stdout = ?, stderr = ?
         WHERE job_id = ? AND attempt = ? AND finished_at IS NULL`,
        u.stdout,
        u.stderr,
        u.id,
        u.attempt,
      );
    }
  }

  /**
   * Writes finishes; says which wake file to touch: `jobs` when a job can
   * run again or a dependent was unblocked, `ends` when jobs only ended.
   */
  #recordFinishes(finishes: RunFinish[]): { applied: string[]; wake: WakeKind | null } {
    const applied: string[] = [];
    let wake: WakeKind | null = null;
    const ended: { id: string; state: JobState; error: string | null }[] = [];
    for (const f of finishes) {
      const changed = this.#run(
        `UPDATE jobs SET state = ?, next_run_at = ?, updated_at = ?, last_error = ?,
           lease_expires_at = NULL, cancel_requested = 0,
           attempts = attempts - ?
         WHERE id = ? AND state = 'processing' AND worker_id = ? AND attempts = ?`,
        f.state,
        f.nextRunAt,
        f.finishedAt,
        f.outcome === "succeeded" ? null : f.error,
        f.uncountAttempt ? 1 : 0,
        f.id,
        f.workerId,
        f.attempt,
      );
      if (changed === 0) continue;
      applied.push(f.id);
      if (f.state === "completed" || f.state === "dead" || f.state === "cancelled") {
        ended.push({ id: f.id, state: f.state, error: f.outcome === "succeeded" ? null : f.error });
        wake ??= "ends";
      } else {
        wake = "jobs";
      }
      this.#run(
        `UPDATE runs SET finished_at = ?, outcome = ?, exit_code = ?, signal = ?, error = ?,
           stdout = coalesce(?, stdout), stderr = coalesce(?, stderr)
         WHERE seq = (SELECT max(seq) FROM runs WHERE job_id = ? AND attempt = ?)`,
        f.finishedAt,
        f.outcome,
        f.exitCode,
        f.signal,
        f.error,
        f.stdout,
        f.stderr,
        f.id,
        f.attempt,
      );
    }
    if (ended.length > 0 && this.#settleDependents(ended, finishes[0]!.finishedAt) > 0) {
      wake = "jobs";
    }
    return { applied, wake };
  }

  runStartMany(params: { starts: RunStart[] }): Promise<void> {
    return this.#promise(() => {
      if (params.starts.length > 0) this.#write(() => this.#recordStarts(params.starts), null);
    });
  }

  runOutputUpdateMany(params: { updates: RunOutputUpdate[] }): Promise<void> {
    return this.#promise(() => {
      if (params.updates.length > 0) this.#write(() => this.#recordOutputs(params.updates), null);
    });
  }

  runFinishMany(params: { finishes: RunFinish[] }): Promise<string[]> {
    if (params.finishes.length === 0) return Promise.resolve([]);
    return this.#promise(() =>
      this.#write(() => this.#recordFinishes(params.finishes), (r) => r.wake).applied
    );
  }

  runRecordMany(params: {
    starts: RunStart[];
    outputs: RunOutputUpdate[];
    finishes: RunFinish[];
    claim?: ClaimParams | undefined;
  }): Promise<RecordResult> {
    const { starts, outputs, finishes, claim } = params;
    if (starts.length + outputs.length + finishes.length === 0 && !claim) {
      return Promise.resolve({ applied: [], claimed: [] });
    }
    // One transaction: a finish and the claim that refills its slot cost one commit.
    return this.#promise(() => {
      const { applied, claimed } = this.#write(() => {
        this.#recordStarts(starts);
        this.#recordOutputs(outputs);
        const finished = this.#recordFinishes(finishes);
        return { ...finished, claimed: claim ? this.#claim(claim) : [] };
      }, (r) => r.wake);
      return { applied, claimed };
    });
  }

  runOutputGet(
    params: { id: string; attempt?: number | undefined; run?: number | undefined },
  ): Promise<RunOutput | null> {
    return this.#promise(() =>
      this.#read(() => {
        const row = params.run !== undefined
          ? this.#get(
            "SELECT attempt, stdout, stderr FROM runs WHERE job_id = ? ORDER BY seq LIMIT 1 OFFSET ?",
            params.id,
            params.run - 1,
          )
          : params.attempt === undefined
          ? this.#get(
            "SELECT attempt, stdout, stderr FROM runs WHERE job_id = ? ORDER BY seq DESC LIMIT 1",
            params.id,
          )
          : this.#get(
            `SELECT attempt, stdout, stderr FROM runs WHERE job_id = ? AND attempt = ?
           ORDER BY seq DESC LIMIT 1`,
            params.id,
            params.attempt,
          );
        if (!row) return null;
        return {
          id: params.id,
          attempt: row.attempt as number,
          stdout: text(row.stdout),
          stderr: text(row.stderr),
        };
      })
    );
  }

  workerRegister(params: {
    id: string;
    pid: number;
    host: string;
    count: number;
    queues: string[] | null;
    now: number;
    role?: WorkerRole;
    clockOffsetMs?: number;
  }): Promise<void> {
    return this.#promise(() => {
      this.#write(() =>
        this.#run(
          `INSERT OR REPLACE INTO workers (id, pid, host, count, queues, started_at, heartbeat_at,
           role, clock_offset_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          params.id,
          params.pid,
          params.host,
          params.count,
          params.queues ? JSON.stringify(params.queues) : null,
          params.now,
          params.now,
          params.role ?? "worker",
          Math.round(params.clockOffsetMs ?? 0),
        )
      );
    });
  }

  workerHeartbeat(
    params: { id: string; now: number; leaseMs: number; clockOffsetMs?: number },
  ): Promise<HeartbeatReply> {
    return this.#promise(() =>
      this.#write(() => {
        this.#run(
          "UPDATE workers SET heartbeat_at = ?, clock_offset_ms = ? WHERE id = ?",
          params.now,
          Math.round(params.clockOffsetMs ?? 0),
          params.id,
        );
        this.#run(
          "UPDATE jobs SET lease_expires_at = ? WHERE state = 'processing' AND worker_id = ?",
          params.now + params.leaseMs,
          params.id,
        );
        return this.#requests(params.id);
      }, null)
    );
  }

  workerRequestsGet(params: { id: string }): Promise<HeartbeatReply> {
    return this.#promise(() => this.#read(() => this.#requests(params.id)));
  }

  #requests(workerId: string): HeartbeatReply {
    const worker = this.#get("SELECT stop_requested FROM workers WHERE id = ?", workerId);
    const cancelled = this.#all(
      `SELECT id FROM jobs INDEXED BY jobs_running
       WHERE state = 'processing' AND worker_id = ? AND cancel_requested = 1`,
      workerId,
    );
    return {
      stopRequested: (worker?.stop_requested as "graceful" | "force" | null | undefined) ?? null,
      cancelRequested: cancelled.map((r) => r.id as string),
    };
  }

  workerRemove(params: { id: string }): Promise<void> {
    return this.#promise(() => {
      this.#write(() => this.#run("DELETE FROM workers WHERE id = ?", params.id));
    });
  }

  #workers(sql: string, lateBefore: number, ...args: SQLInputValue[]): WorkerInfo[] {
    const rows = this.#all(sql, ...args);
    if (rows.length === 0) return [];
    // The running jobs of all these workers in one query, not one per worker.
    const running = new Map<string, string[]>();
    for (
      const row of this.#all(
        `SELECT worker_id, id FROM jobs INDEXED BY jobs_running
         WHERE state = 'processing' AND worker_id IN (SELECT value FROM json_each(?)) ORDER BY id`,
        JSON.stringify(rows.map((row) => row.id)),
      )
    ) {
      const ids = running.get(row.worker_id as string) ?? [];
      ids.push(row.id as string);
      running.set(row.worker_id as string, ids);
    }
    return rows.map((row) => toWorker(row, running.get(row.id as string) ?? [], lateBefore));
  }

  workerList(params: { staleBefore: number; lateBefore?: number }): Promise<WorkerInfo[]> {
    return this.#promise(() =>
      this.#read(() =>
        this.#workers(
          "SELECT * FROM workers WHERE heartbeat_at >= ? ORDER BY started_at, id",
          params.lateBefore ?? -Infinity,
          params.staleBefore,
        )
      )
    );
  }

  workerListAll(): Promise<WorkerInfo[]> {
    return this.#promise(() =>
      this.#read(() => this.#workers("SELECT * FROM workers ORDER BY started_at, id", -Infinity))
    );
  }

  turnTake(
    params: { name?: string | undefined; holder: string; now: number; ttlMs: number },
  ): Promise<boolean> {
    return this.#promise(() =>
      this.#write(
        () =>
          this.#run(
            `INSERT INTO turns (name, holder, until) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
           WHERE turns.holder = excluded.holder OR turns.until < ?`,
            params.name ?? "rescuer",
            params.holder,
            params.now + params.ttlMs,
            params.now,
          ) > 0,
        null,
      )
    );
  }

  workerRequestStop(params: { ids?: string[]; mode: "graceful" | "force" }): Promise<number> {
    return this.#promise(() =>
      this.#write(() =>
        params.ids
          ? this.#run(
            "UPDATE workers SET stop_requested = ? WHERE id IN (SELECT value FROM json_each(?))",
            params.mode,
            JSON.stringify(params.ids),
          )
          : this.#run("UPDATE workers SET stop_requested = ?", params.mode)
      )
    );
  }

  jobNextRetryAt(): Promise<number | null> {
    return this.#earliest(
      "SELECT min(next_run_at) AS at FROM jobs INDEXED BY jobs_retry_due WHERE state = 'failed'",
    );
  }

  /** The `at` of a `SELECT min(…) AS at` read, or `null` when no row has one. */
  #earliest(sql: string): Promise<number | null> {
    return this.#promise(() =>
      this.#read(() => (this.#get(sql)?.at as number | null | undefined) ?? null)
    );
  }

  runFinishedCounts(params: { since: number; bucketMs: number }): Promise<FinishedCount[]> {
    return this.#promise(() =>
      this.#read(() =>
        this.#all(
          `SELECT CAST((finished_at - ?) / ? AS INTEGER) AS bucket,
           count(*) FILTER (WHERE outcome = 'succeeded') AS completed,
           count(*) FILTER (WHERE outcome <> 'succeeded') AS failed
         FROM runs WHERE finished_at IS NOT NULL AND finished_at >= ? GROUP BY bucket`,
          params.since,
          Math.max(1, Math.round(params.bucketMs)),
          params.since,
        ).map((row) => ({
          bucket: row.bucket as number,
          completed: row.completed as number,
          failed: row.failed as number,
        }))
      )
    );
  }

  runTotals(): Promise<{ outcome: RunOutcome; count: number; duration_ms_sum: number }[]> {
    return this.#promise(() =>
      this.#read(() =>
        this.#all(
          `SELECT outcome, count(*) AS count, sum(finished_at - started_at) AS duration_ms_sum
         FROM runs WHERE finished_at IS NOT NULL GROUP BY outcome ORDER BY outcome`,
        ).map((row) => ({
          outcome: row.outcome as RunOutcome,
          count: row.count as number,
          duration_ms_sum: (row.duration_ms_sum as number | null) ?? 0,
        }))
      )
    );
  }

  scheduleInsert(params: { schedule: NewSchedule; now: number }): Promise<Schedule> {
    const { schedule: s, now } = params;
    return this.#promise(() =>
      this.#write(() => {
        if (this.#get("SELECT 1 AS x FROM schedules WHERE name = ?", s.name)) {
          throw scheduleNameTaken(s.name);
        }
        const row = this.#get(
          `INSERT INTO schedules (name, cron, tz, catch_up, overlap, job, paused, next_run_at,
             created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          s.name,
          s.cron,
          s.tz,
          s.catch_up,
          s.overlap ? 1 : 0,
          JSON.stringify(s.job),
          s.paused ? 1 : 0,
          s.next_run_at,
          now,
        )!;
        return toSchedule(row);
      })
    );
  }

  scheduleGet(params: { name: string }): Promise<Schedule | null> {
    return this.#promise(() =>
      this.#read(() => {
        const row = this.#get("SELECT * FROM schedules WHERE name = ?", params.name);
        return row ? toSchedule(row) : null;
      })
    );
  }

  scheduleList(): Promise<Schedule[]> {
    return this.#promise(() =>
      this.#read(() => this.#all("SELECT * FROM schedules ORDER BY name").map(toSchedule))
    );
  }

  scheduleDelete(params: { name: string }): Promise<void> {
    return this.#promise(() =>
      this.#write(() => {
        if (this.#run("DELETE FROM schedules WHERE name = ?", params.name) === 0) {
          throw scheduleNotFound(params.name);
        }
      })
    );
  }

  scheduleSetPaused(
    params: { name: string; paused: boolean; nextRunAt?: number | null | undefined },
  ): Promise<Schedule> {
    return this.#promise(() =>
      this.#write(() => {
        const row = this.#get(
          `UPDATE schedules SET paused = ?,
             next_run_at = CASE WHEN ? THEN ? ELSE next_run_at END
           WHERE name = ? RETURNING *`,
          params.paused ? 1 : 0,
          params.nextRunAt === undefined ? 0 : 1,
          params.nextRunAt ?? null,
          params.name,
        );
        if (!row) throw scheduleNotFound(params.name);
        return toSchedule(row);
      })
    );
  }

  scheduleFireMany(params: { fires: ScheduleFire[]; now: number }): Promise<ScheduleFireResult[]> {
    const { fires, now } = params;
    return this.#promise(() => {
      // Quiet unless jobs were added: a time that only moved on (skipped, or
      // paused meanwhile) wakes no worker; other firers re-read on their own.
      const results = this.#write(
        () => fires.map((fire) => this.#fire(fire, now)),
        (fired) => fired.some((r) => r.inserted.length > 0) ? "jobs" : null,
      );
      return results;
    });
  }

  /** One schedule's fire inside the caller's write transaction. */
  #fire(fire: ScheduleFire, now: number): ScheduleFireResult {
    const { name, jobs } = fire;
    let row: Row | undefined;
    if (fire.expectedNextRunAt !== null) {
      // The guard: of every process that read this due time, one advances it.
      row = this.#get(
        `UPDATE schedules SET next_run_at = ?, missed = missed + ?
         WHERE name = ? AND next_run_at = ? AND paused = 0
         RETURNING last_job_id`,
        fire.nextRunAt,
        fire.missed,
        name,
        fire.expectedNextRunAt,
      );
      if (!row) return { fired: false, inserted: [], skipped: [] };
    } else {
      row = this.#get("SELECT last_job_id FROM schedules WHERE name = ?", name);
      if (!row) throw scheduleNotFound(name);
    }
    const inserted: string[] = [];
    const skipped: string[] = [];
    let lastJobId = row.last_job_id as string | null;
    let lastRunAt: number | null = null;
    // Without overlap each job carries the key schedule:<name>: while the
    // previous one is active the unique index over active keys refuses
    // the row, and DO NOTHING makes that a skip (an id already taken too).
    const insert = this.#stmt(INSERT_SCHEDULED_JOB);
    const args: SQLInputValue[] = new Array(JOB_ROW_PARAMS + 1);
    for (const job of jobs) {
      setJobRow(args, 0, job, now)[JOB_ROW_PARAMS] = job.key;
      if (Number(insert.run(...args).changes) === 0) {
        skipped.push(job.id);
        continue;
      }
      inserted.push(job.id);
      lastJobId = job.id;
      lastRunAt = job.run_at;
    }
    if (inserted.length > 0) {
      this.#run(
        "UPDATE job_counts SET n = n + ? WHERE state = 'pending'",
        inserted.length,
      );
    }
    const countSkips = fire.expectedNextRunAt !== null ? skipped.length : 0;
    if (inserted.length > 0 || countSkips > 0) {
      this.#run(
        `UPDATE schedules SET skipped = skipped + ?,
           last_run_at = coalesce(?, last_run_at), last_job_id = ?
         WHERE name = ?`,
        countSkips,
        lastRunAt,
        lastJobId,
        name,
      );
    }
    return { fired: true, inserted, skipped };
  }

  scheduleNextDueAt(): Promise<number | null> {
    return this.#earliest(
      "SELECT min(next_run_at) AS at FROM schedules INDEXED BY schedules_due WHERE paused = 0",
    );
  }

  scheduleListDue(params: { now: number; limit: number }): Promise<Schedule[]> {
    return this.#promise(() =>
      this.#read(() =>
        this.#all(
          `SELECT * FROM schedules INDEXED BY schedules_due
           WHERE paused = 0 AND next_run_at <= ? ORDER BY next_run_at LIMIT ?`,
          params.now,
          params.limit,
        ).map(toSchedule)
      )
    );
  }

  configGetAll(): Promise<Config> {
    return this.#promise(() =>
      this.#read(() => {
        const config = defaultConfig();
        for (const row of this.#all("SELECT key, value FROM config")) {
          try {
            config[parseConfigKey(row.key as string)] = JSON.parse(row.value as string);
          } catch {
            // A key from a newer version: ignore rather than fail every command.
          }
        }
        return config;
      })
    );
  }

  configSet(params: { key: ConfigKey; value: number }): Promise<void> {
    return this.#promise(() => {
      this.#write(() =>
        this.#run(
          "INSERT OR REPLACE INTO config (key, value) VALUES (?, ?)",
          params.key,
          JSON.stringify(params.value),
        )
      );
    });
  }

  queueList(): Promise<QueueInfo[]> {
    return this.#promise(() =>
      this.#read(() =>
        toQueues(
          this.#all("SELECT name, paused, concurrency FROM queues"),
          this.#all("SELECT queue, state, count(*) AS n FROM jobs GROUP BY queue, state"),
        )
      )
    );
  }

  queueSet(
    params: { name: string; paused?: boolean | undefined; concurrency?: number | undefined },
  ): Promise<void> {
    const paused = params.paused === undefined ? null : params.paused ? 1 : 0;
    const concurrency = params.concurrency ?? null;
    return this.#promise(() => {
      this.#write(() =>
        this.#run(
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

  #fileSize(path: string): number {
    try {
      return Deno.statSync(path).size;
    } catch {
      return 0;
    }
  }

  storeSize(): Promise<number> {
    if (this.location === ":memory:") return Promise.resolve(0);
    return Promise.resolve(
      this.#fileSize(this.location) + this.#fileSize(`${this.location}-wal`),
    );
  }

  async storeVacuum(): Promise<{ before: number; after: number }> {
    const before = await this.storeSize();
    this.#read(() => {
      // Outside any transaction; waits for writers up to the busy timeout.
      this.#db.exec("VACUUM");
      // The rewrite went through the WAL: fold it back and shrink it.
      this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    });
    return { before, after: await this.storeSize() };
  }

  storeBackup(params: { path: string }): Promise<{ bytes: number }> {
    return this.#promise(() => {
      const { path } = params;
      let exists = true;
      try {
        Deno.lstatSync(path);
      } catch {
        exists = false;
      }
      if (exists) {
        throw new UsageError(
          `Cannot back up to "${path}": the file exists`,
          "choose a new file name, or remove the old file first",
        );
      }
      const folder = parentFolder(path);
      let isFolder = false;
      try {
        isFolder = Deno.statSync(folder).isDirectory;
      } catch { /* missing */ }
      if (!isFolder) {
        throw new UsageError(
          `Cannot back up to "${path}": folder "${folder}" does not exist`,
          "create the folder first",
        );
      }
      // VACUUM INTO copies one read transaction's snapshot (WAL: writers go
      // on meanwhile), compacted, into a new file: consistent without
      // restarting as the online backup API does on each foreign write.
      this.#read(() => this.#stmt("VACUUM INTO ?").run(path));
      return { bytes: this.#fileSize(path) };
    });
  }
}
