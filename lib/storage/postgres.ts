/**
 * The PostgreSQL store on postgres.js (`npm:postgres`). All PostgreSQL SQL
 * lives here and in `postgres_schema.ts`. Rows come back shaped like
 * SQLite's (the same columns, epoch-ms numbers, `env` JSON text, output
 * bytes), so `_rows.ts` maps both.
 *
 * Many hosts share one database, so: claims are one statement with
 * `FOR UPDATE SKIP LOCKED`; multi-row updates lock rows in id order (no
 * deadlocks between hosts); times come from the server's clock
 * ({@linkcode PostgresStorage.now}); idle workers wake by LISTEN/NOTIFY,
 * sent inside the writing transaction only when something becomes
 * claimable or a request arrives (never for claims, heartbeats or output).
 */
import postgres from "postgres";
import { localNow } from "../clock.ts";
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
import {
  checkDependency,
  checkRetryDependency,
  distinctIds,
  keyHeld,
  planKeyConflict,
  replacedError,
} from "../job_flow.ts";
import type { NewSchedule, Schedule } from "../schedule.ts";
import { planCancel, planRetry } from "../state.ts";
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
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from "./postgres/schema.ts";
import { parsePostgresUrl, type PostgresUrl } from "./postgres/url.ts";
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

type Sql = postgres.Sql;

/** Every store call settles within this, even when the server stopped answering. */
const CALL_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_S = 5;
const STATEMENT_TIMEOUT_MS = 10_000;
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 15_000;
/** Rows per INSERT of a batch: big enough to be fast, small enough for one message. */
const INSERT_CHUNK_ROWS = 5_000;

/** The first key of every advisory lock queuectl takes ("qu"), the second per schema and use. */
const LOCK_CLASS = 0x7175;
const LOCK_MIGRATE = 1;
const LOCK_FOLD_COUNTS = 2;
/** Claims from one limited queue, one at a time across hosts (with the queue's name in the key). */
const LOCK_QUEUE = 3;

/** Every table of the schema, for VACUUM. */
const TABLES = [
  "jobs",
  "runs",
  "run_outputs",
  "job_counts",
  "job_count_deltas",
  "workers",
  "turns",
  "config",
  "queues",
];

/** A 32-bit FNV-1a hash, signed like PostgreSQL's int4. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** How often a listening store checks its LISTEN connection with a notification to itself. */
const CANARY_EVERY_MS = 2000;
/** A check not heard back within this means the connection is silently lost: rebuild it. */
const CANARY_TIMEOUT_MS = 3000;

/** The server's clock in epoch milliseconds, as SQL. */
const SERVER_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::float8";

const JOB_COLUMNS = `seq, id, command, state, queue, priority, max_retries, timeout, env, cwd,
  attempts, created_at, updated_at, next_run_at, last_error, worker_id, after_ids, unique_key,
  retry_on`;

/** The active states as SQL, for the partial index on keys (the planner needs it literally). */
const ACTIVE = "('pending', 'blocked', 'processing', 'failed')";

/** The error for an id that exists already. */
function duplicateIdError(id: string): ConflictError {
  return new ConflictError(
    `Cannot enqueue job "${id}": a job with this id already exists`,
    "choose another id, or omit it to have one generated",
  );
}

/** Options of every connection pool of a store. */
function driverOptions(url: PostgresUrl): postgres.Options<Record<string, postgres.PostgresType>> {
  return {
    connect_timeout: CONNECT_TIMEOUT_S,
    // The default backoff grows to 20 s: after a server restart every
    // query would hang that long. Retry within a second instead.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    onnotice: () => {},
    types: {
      // int8 (epoch ms, counts) and numeric (sums) as JS numbers, like SQLite's.
      bigint: {
        to: 20,
        from: [20, 1700],
        serialize: (x: number) => String(x),
        parse: (x: string) => Number(x),
      },
    },
    connection: {
      application_name: "queuectl",
      search_path: url.schema,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      // Never let a stalled client hold locks (and vacuum) for long.
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    },
  };
}

/**
 * The LISTEN connection of a store, managed here rather than by the
 * driver's `listen()`: that one re-listens on its own after a drop, but
 * its `unlisten()` then misses the re-registered callbacks, and ending it
 * while a reconnect is pending leaves a revived connection that keeps the
 * process alive. Here a LISTEN is retried only by our own timer, and
 * close() waits for the one under way before ending the connection.
 *
 * A connection can also die silently (a cut network, a stalled backend:
 * no error, just no notifications), so every {@linkcode CANARY_EVERY_MS}
 * the store notifies a channel only this connection listens on; a canary
 * not heard back within {@linkcode CANARY_TIMEOUT_MS} replaces the
 * connection, and the re-listen makes every watcher re-read.
 */
class Listener {
  readonly callbacks = new Set<() => void>();
  #url: PostgresUrl;
  #sql: Sql;
  #channels: string[];
  /** Private to this connection: its notifications wake nobody else. */
  readonly canaryChannel = `queuectl_canary_${crypto.randomUUID().replaceAll("-", "")}`;
  #sendCanary: (channel: string) => Promise<unknown>;
  #closed = false;
  #inflight: Promise<void> | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #canaryTimer: ReturnType<typeof setInterval>;
  /** When the unanswered canary was sent (local ms), or null. */
  #canarySentAt: number | null = null;
  #retries = 0;
  /** Whether the LISTEN is in force (a new watch is called back at once then). */
  listening = false;

  constructor(
    url: PostgresUrl,
    channels: string[],
    sendCanary: (channel: string) => Promise<unknown>,
  ) {
    this.#url = url;
    this.#channels = channels;
    this.#sendCanary = sendCanary;
    this.#sql = this.#connect();
    this.#listen();
    this.#canaryTimer = setInterval(() => void this.#checkCanary(), CANARY_EVERY_MS);
  }

  #connect(): Sql {
    const sql = postgres(this.#url.connectionUrl, {
      ...driverOptions(this.#url),
      max: 1,
      fetch_types: false,
      connection: {
        ...driverOptions(this.#url).connection,
        // Names the connection in pg_stat_activity (tests stall it on purpose).
        application_name: `queuectl-listen:${this.#url.schema}`.slice(0, 63),
      },
      onclose: () => {
        // The connection dropped (or a connect failed): listen again soon.
        if (this.#sql !== sql) return;
        this.listening = false;
        if (!this.#closed && this.#inflight === null) this.#schedule(100);
      },
      onnotify: (channel: string) => {
        if (channel === this.canaryChannel) this.#canarySentAt = null;
        else this.#wake();
      },
    } as postgres.Options<Record<string, postgres.PostgresType>>) as unknown as Sql;
    return sql;
  }

  #wake(): void {
    for (const callback of this.callbacks) callback();
  }

  #schedule(ms: number): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#listen();
    }, ms);
  }

  #listen(): void {
    if (this.#closed || this.#inflight !== null) return;
    this.#inflight = this.#sql.unsafe(
      [...this.#channels, this.canaryChannel].map((c) => `LISTEN "${c}";`).join(" "),
    )
      .then(
        () => {
          this.#retries = 0;
          this.listening = true;
          this.#canarySentAt = null;
          // Notifications may have been missed while not listening: re-read.
          this.#wake();
        },
        () => this.#schedule(Math.min(50 * 2 ** this.#retries++, 1000)),
      ).finally(() => {
        this.#inflight = null;
      });
  }

  async #checkCanary(): Promise<void> {
    if (this.#closed || !this.listening || this.callbacks.size === 0) return;
    if (this.#canarySentAt !== null) {
      if (Date.now() - this.#canarySentAt < CANARY_TIMEOUT_MS) return;
      // Silently lost: no error came, but our own notification did not either.
      this.#canarySentAt = null;
      this.listening = false;
      const old = this.#sql;
      this.#sql = this.#connect();
      void old.end({ timeout: 0 }).catch(() => {});
      this.#listen();
      return;
    }
    const sentAt = Date.now();
    try {
      await this.#sendCanary(this.canaryChannel);
      this.#canarySentAt ??= sentAt;
    } catch {
      // The server itself is unreachable: the pool's reconnects handle that.
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#canaryTimer);
    this.#timer = undefined;
    this.callbacks.clear();
    await this.#inflight;
    await this.#sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** Turns a driver error into a one-line error naming the server and what to do. */
export function toStorageError(error: unknown, server: PostgresUrl): QueuectlError {
  if (error instanceof QueuectlError) return error;
  const at = `PostgreSQL at ${server.host}:${server.port}`;
  const code = error && typeof error === "object" && "code" in error
    ? String((error as { code: unknown }).code)
    : "";
  const detail = oneLine(errorMessage(error));
  switch (code) {
    case "ECONNREFUSED":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ETIMEDOUT":
    case "CONNECT_TIMEOUT":
      return new StorageError(
        `Cannot reach ${at} (${code})`,
        "check that the server is running and that the host and port in the URL are right",
      );
    case "28P01":
    case "28000":
      return new StorageError(
        `${at} refused the login of user "${server.user}": ${detail}`,
        "check the user and password in the URL",
      );
    case "3D000":
      return new StorageError(
        `Database "${server.database}" does not exist on ${at}`,
        `create it with: createdb -h ${server.host} -p ${server.port} -U ${server.user} ${server.database}`,
      );
    case "53300":
      return new StorageError(
        `${at} has no free connections: ${detail}`,
        "lower --count or the number of worker processes, raise max_connections, or use a pooler in session mode",
      );
    case "57014":
      return new StorageError(
        `${at} cancelled a query after the statement timeout (${STATEMENT_TIMEOUT_MS / 1000} s)`,
        "try again; if it persists, check the server's load and locks",
      );
    case "40P01":
      return new StorageError(`${at} detected a deadlock: ${detail}`, "try again");
    case "57P01":
    case "57P02":
    case "57P03":
    case "CONNECTION_CLOSED":
    case "CONNECTION_ENDED":
    case "CONNECTION_DESTROYED":
    case "ECONNRESET":
    case "EPIPE":
      return new StorageError(
        `Lost the connection to ${at} (${code})`,
        "check that the server is running, then try again",
      );
  }
  if (code.startsWith("08")) {
    return new StorageError(
      `Lost the connection to ${at} (${code}): ${detail}`,
      "check that the server is running, then try again",
    );
  }
  return new StorageError(`${at} failed: ${detail}${code ? ` (${code})` : ""}`);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

function sqlState(error: unknown): string | null {
  return error instanceof postgres.PostgresError ? error.code : null;
}

/** The id a unique violation names in its detail: `Key (id)=(x) already exists.` */
function duplicateId(error: unknown): string | null {
  if (sqlState(error) !== "23505") return null;
  const detail = (error as { detail?: string }).detail ?? "";
  const match = /^Key \(id\)=\((.*)\) already exists\.$/s.exec(detail);
  return match ? match[1]! : null;
}

function byId<T extends { id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The PostgreSQL implementation of {@linkcode Storage}. */
export class PostgresStorage implements Storage {
  readonly location: string;
  /** Set by open(), from the server. */
  engine = "PostgreSQL";
  #sql: Sql;
  #url: PostgresUrl;
  #channel: string;
  /** Server clock minus local clock, in ms. */
  #offset = 0;
  /** Sent when a job ends (completed, dead, cancelled): heard only by watches that ask. */
  #doneChannel: string;
  /** The LISTEN connections: one for workers' wake-ups, one that also hears job ends. */
  #listeners = new Map<"jobs" | "ends", Listener>();
  /** Driver calls under way, awaited by close() (see there). */
  #inflight = new Set<Promise<unknown>>();
  #closing: Promise<void> | null = null;

  private constructor(url: PostgresUrl, sql: Sql) {
    this.#url = url;
    this.#sql = sql;
    this.location = url.display;
    // Channel names are database-wide, so the schema is in it (at most 63 bytes).
    this.#channel = `queuectl_${url.schema}`.slice(0, 63);
    this.#doneChannel = `queuectl_done_${url.schema}`.slice(0, 63);
  }

  /**
   * Connects to the server at `url` (a `postgres://` URL, optionally with
   * `?schema=NAME`), creating and migrating the schema when needed.
   * `connections` is the pool size: 1 for a CLI command, a few for a worker.
   */
  static async open(url: string, options?: { connections?: number }): Promise<PostgresStorage> {
    const parsed = parsePostgresUrl(url);
    const sql = postgres(parsed.connectionUrl, {
      ...driverOptions(parsed),
      max: options?.connections ?? 1,
    }) as unknown as Sql;
    const store = new PostgresStorage(parsed, sql);
    try {
      await store.#call(async () => {
        await store.#migrate();
        // After the connection is up, so its set-up is not in the round trip.
        await store.#measureClock();
      });
      return store;
    } catch (error) {
      await sql.end({ timeout: 0 }).catch(() => {});
      throw error;
    }
  }

  /** Runs `fn` with a deadline; every error becomes a one-line QueuectlError. */
  async #call<T>(fn: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const work = fn();
    this.#inflight.add(work);
    work.then(
      () => this.#inflight.delete(work),
      () => this.#inflight.delete(work),
    );
    try {
      return await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new StorageError(
                  `PostgreSQL at ${this.#url.host}:${this.#url.port} did not answer within ${
                    CALL_TIMEOUT_MS / 1000
                  } s`,
                  "check that the server is running and reachable, then try again",
                ),
              ),
            CALL_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (error) {
      throw toStorageError(error, this.#url);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends a statement at once (a postgres.js query otherwise starts only
   * when first awaited), so statements go out in the order they are made.
   */
  #q(db: Sql, query: string, args: unknown[] = []): Promise<Row[]> {
    return db.unsafe(query, args as never[], { prepare: true }).execute() as unknown as Promise<
      Row[]
    >;
  }

  #begin<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.#sql.begin((tx) => fn(tx as unknown as Sql)) as Promise<T>;
  }

  #notify(tx: Sql): Promise<Row[]> {
    return this.#q(tx, "SELECT pg_notify($1, '')", [this.#channel]);
  }

  async #measureClock(): Promise<void> {
    const before = localNow();
    const [row] = await this.#q(
      this.#sql,
      `SELECT ${SERVER_MS} AS ms, current_setting('server_version') AS version`,
    );
    this.#setOffset(row!.ms as number, before, localNow());
    this.engine = `PostgreSQL ${String(row!.version).split(" ")[0]}`;
  }

  /** The server read `serverMs` between local `before` and `after`: assume the middle. */
  #setOffset(serverMs: number, before: number, after: number): void {
    this.#offset = Math.round(serverMs - (before + after) / 2);
  }

  async #schemaVersion(db: Sql): Promise<number> {
    try {
      const [row] = await this.#q(db, "SELECT version FROM schema_version");
      return (row?.version as number | undefined) ?? 0;
    } catch (error) {
      if (sqlState(error) === "42P01") return 0; // no schema or no table yet
      throw error;
    }
  }

  #tooNew(version: number): StorageError {
    return new StorageError(
      `Database "${this.location}" was written by a newer queuectl (schema ${version}, this one knows ${PG_SCHEMA_VERSION})`,
      "upgrade queuectl",
    );
  }

  async #migrate(): Promise<void> {
    // The common case, read-only: already current.
    const version = await this.#schemaVersion(this.#sql);
    if (version > PG_SCHEMA_VERSION) throw this.#tooNew(version);
    if (version === PG_SCHEMA_VERSION) return;
    await this.#begin(async (tx) => {
      // The lock comes before CREATE SCHEMA IF NOT EXISTS, which can fail
      // with a unique violation when two sessions run it at once.
      await this.#q(tx, "SELECT pg_advisory_xact_lock($1, $2)", [
        LOCK_CLASS,
        hash32(`${this.#url.schema}:${LOCK_MIGRATE}`),
      ]);
      await tx.unsafe("SET LOCAL statement_timeout = 0");
      await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS "${this.#url.schema}"`);
      await tx.unsafe("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)");
      // Re-read under the lock: another process may have migrated meanwhile.
      const [row] = await this.#q(tx, "SELECT version FROM schema_version");
      const current = (row?.version as number | undefined) ?? 0;
      if (current > PG_SCHEMA_VERSION) throw this.#tooNew(current);
      for (let i = current; i < PG_SCHEMA_VERSION; i++) await tx.unsafe(PG_MIGRATIONS[i]!);
      if (row) {
        await this.#q(tx, "UPDATE schema_version SET version = $1", [PG_SCHEMA_VERSION]);
      } else {
        await this.#q(tx, "INSERT INTO schema_version (version) VALUES ($1)", [PG_SCHEMA_VERSION]);
      }
    });
  }

  now(): number {
    return localNow() + this.#offset;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      // A listening connection keeps the process alive: end it first.
      await Promise.all([...this.#listeners.values()].map((listener) => listener.close()));
      this.#listeners.clear();
      // Ending the pool while a call waits for a reconnect would leave the
      // reconnect pending, and the connection it opens keeps the process
      // alive: let calls under way settle first (they fail fast when down).
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...this.#inflight]),
        new Promise((resolve) => timer = setTimeout(resolve, CALL_TIMEOUT_MS)),
      ]);
      clearTimeout(timer);
      // Every call has settled: nothing is left to wait for.
      await this.#sql.end({ timeout: 0 }).catch(() => {});
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * LISTENs on the schema's channel on a connection of its own (one per
   * store, shared by its watches). Every (re)listen calls back too: after
   * a reconnect notifications may have been missed, so the caller re-reads.
   */
  watchChanges(
    onChange: () => void,
    options: WatchOptions = {},
  ): { close(): void } {
    if (this.#closing) return { close() {} };
    // Job ends come on a channel of their own, so idle workers (which do
    // not care) are not woken by every finish on every host.
    const kind = options.jobEnds ? "ends" : "jobs";
    let listener = this.#listeners.get(kind);
    if (!listener) {
      listener = new Listener(
        this.#url,
        kind === "ends" ? [this.#channel, this.#doneChannel] : [this.#channel],
        (channel) =>
          this.#call(() => this.#q(this.#sql, "SELECT pg_notify($1, 'canary')", [channel])),
      );
      this.#listeners.set(kind, listener);
    }
    const callback = () => onChange();
    listener.callbacks.add(callback);
    // Like a (re)listen, a new watch starts with a re-read.
    if (listener.listening) {
      queueMicrotask(() => {
        if (listener.callbacks.has(callback)) callback();
      });
    }
    return {
      close: () => {
        listener.callbacks.delete(callback);
      },
    };
  }

  jobInsertMany(
    params: { jobs: NewJob[]; now: number; onConflict?: OnConflict | undefined },
  ): Promise<InsertResult> {
    const { jobs, now } = params;
    if (jobs.length === 0) {
      return Promise.resolve({ inserted: 0, kept: [], blocked: [], replaced: [] });
    }
    const onConflict = params.onConflict ?? "keep";
    const keyed = jobs.some((job) => job.key !== null);
    if (jobs.some((job) => job.after !== null) || (keyed && onConflict === "replace")) {
      return this.#call(() => this.#begin((tx) => this.#insertFlow(tx, jobs, now, onConflict)));
    }
    // Keys without dependencies ("keep" or "fail") stay on the bulk path:
    // the unique index leaves out each job whose key is active, also one
    // held by an earlier row of the batch, and the rule is applied after.
    const onKey = keyed
      ? `ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ${ACTIVE}
         DO NOTHING RETURNING id`
      : "";
    return this.#call(() =>
      this.#begin(async (tx) => {
        // Chunks are sent without waiting for each other (postgres.js
        // pipelines them on the transaction's connection), so the server
        // inserts one while this process builds the next.
        const inserts: Promise<Row[]>[] = [];
        for (let i = 0; i < jobs.length; i += INSERT_CHUNK_ROWS) {
          const chunk = jobs.slice(i, i + INSERT_CHUNK_ROWS);
          inserts.push(this.#q(
            tx,
            `INSERT INTO jobs (id, command, state, queue, priority, max_retries, timeout,
               env, cwd, created_at, updated_at, next_run_at, retry_on, unique_key)
             SELECT id, command, 'pending', queue, priority, max_retries, timeout,
               env, cwd, $10, $10, run_at, retry_on, unique_key
             FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[],
               $6::float8[], $7::text[], $8::text[], $9::int8[], $11::text[], $12::text[])
               WITH ORDINALITY AS t(id, command, queue, priority, max_retries, timeout,
                 env, cwd, run_at, retry_on, unique_key, n)
             ORDER BY n ${onKey}`,
            [
              chunk.map((j) => j.id),
              chunk.map((j) => j.command),
              chunk.map((j) => j.queue),
              chunk.map((j) => j.priority),
              chunk.map((j) => j.max_retries),
              chunk.map((j) => j.timeout),
              chunk.map((j) => (j.env === null ? null : JSON.stringify(j.env))),
              chunk.map((j) => j.cwd),
              chunk.map((j) => j.run_at),
              now,
              chunk.map((j) => (j.retry_on === null ? null : JSON.stringify(j.retry_on))),
              chunk.map((j) => j.key),
            ],
          ));
        }
        // Inserts count themselves: one delta for the batch, no trigger.
        if (!keyed) {
          inserts.push(this.#q(
            tx,
            "INSERT INTO job_count_deltas (state, n) VALUES ('pending', $1)",
            [jobs.length],
          ));
        }
        // The first failure aborts the transaction; the later chunks then
        // fail only for that reason, so the first one is the one to report.
        const failed = (await Promise.allSettled(inserts)).find((r) => r.status === "rejected");
        if (failed) {
          const id = duplicateId(failed.reason);
          if (id !== null) throw duplicateIdError(id);
          throw failed.reason;
        }
        const result: InsertResult = { inserted: jobs.length, kept: [], blocked: [], replaced: [] };
        if (keyed) {
          const added = new Set<string>();
          for (const r of inserts) {
            for (const row of await r) added.add(row.id as string);
          }
          result.inserted = added.size;
          if (added.size < jobs.length) {
            await this.#keptByKey(tx, jobs, added, now, onConflict, result);
          }
          await this.#q(tx, "INSERT INTO job_count_deltas (state, n) VALUES ('pending', $1)", [
            added.size,
          ]);
        }
        if (result.inserted > 0) await this.#notify(tx);
        return result;
      })
    );
  }

  /** Applies "keep" or "fail" to the jobs a keyed bulk insert left out (not in `added`). */
  async #keptByKey(
    tx: Sql,
    jobs: NewJob[],
    added: Set<string>,
    now: number,
    onConflict: OnConflict,
    result: InsertResult,
  ): Promise<void> {
    const out = jobs.filter((job) => !added.has(job.id));
    const holders = new Map(
      (await this.#q(
        tx,
        `SELECT id, state, unique_key FROM jobs
         WHERE unique_key = ANY($1::text[]) AND state IN ${ACTIVE}`,
        [[...new Set(out.map((job) => job.key))]],
      )).map((row) => [row.unique_key as string, row]),
    );
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
      const more = await this.#insertFlow(tx, late, now, onConflict);
      result.inserted += more.inserted;
      result.kept.push(...more.kept);
    }
  }

  /**
   * Inserts jobs with dependencies or keys one by one, applying SPEC 12's
   * rules. A key is settled by the unique index: an insert that loses a
   * race to another transaction's insert of the same key does nothing,
   * and the rule is applied again against the winner.
   */
  async #insertFlow(
    tx: Sql,
    jobs: NewJob[],
    now: number,
    onConflict: OnConflict,
  ): Promise<InsertResult> {
    const result: InsertResult = { inserted: 0, kept: [], blocked: [], replaced: [] };
    let pending = 0;
    for (const job of jobs) {
      const after = job.after === null ? [] : distinctIds(job.after);
      let open = 0;
      if (after.length > 0) {
        // Marking the dependencies locks them until commit, so none can end
        // unseen between this check and the dependent becoming visible.
        const rows = await this.#q(
          tx,
          `UPDATE jobs SET has_dependents = true
           WHERE id IN (SELECT id FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE)
           RETURNING id, state`,
          [after],
        );
        const states = new Map(rows.map((r) => [r.id as string, r.state as JobState]));
        for (const dep of after) {
          if (checkDependency(job.id, dep, states.get(dep) ?? null)) open++;
        }
      }
      let inserted = false;
      for (let round = 0; !inserted; round++) {
        if (job.key !== null) {
          const [holder] = await this.#q(
            tx,
            `SELECT id, state FROM jobs WHERE unique_key = $1 AND state IN ${ACTIVE} FOR UPDATE`,
            [job.key],
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
              break;
            }
            await this.#q(
              tx,
              `UPDATE jobs SET state = 'cancelled', next_run_at = NULL, updated_at = $2,
                 last_error = $3 WHERE id = $1`,
              [holder.id, now, replacedError(job.id)],
            );
            result.replaced.push(holder.id as string);
          }
        }
        if (round > 3) {
          throw new ConflictError(
            `Cannot enqueue job "${job.id}": key "${job.key}" is contended`,
            "try again",
          );
        }
        try {
          const rows = await this.#q(
            tx,
            `INSERT INTO jobs (id, command, state, queue, priority, max_retries, timeout, env, cwd,
               created_at, updated_at, next_run_at, retry_on, after_ids, unique_key, deps_open)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13, $14, $15)
             ON CONFLICT (unique_key)
               WHERE unique_key IS NOT NULL AND state IN ${ACTIVE} DO NOTHING
             RETURNING id`,
            [
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
            ],
          );
          inserted = rows.length > 0;
        } catch (error) {
          if (duplicateId(error) !== null) throw duplicateIdError(job.id);
          throw error;
        }
      }
      if (!inserted) continue;
      if (after.length > 0) {
        await this.#q(
          tx,
          `INSERT INTO job_deps (dep_id, job_id) SELECT unnest($1::text[]), $2
           ON CONFLICT DO NOTHING`,
          [after, job.id],
        );
      }
      if (open > 0) result.blocked.push(job.id);
      else pending++;
    }
    result.inserted = pending + result.blocked.length;
    await this.#q(
      tx,
      "INSERT INTO job_count_deltas (state, n) VALUES ('pending', $1), ('blocked', $2)",
      [pending, result.blocked.length],
    );
    if (pending > 0) await this.#notify(tx);
    return result;
  }

  jobGet(params: { id: string }): Promise<Job | null> {
    return this.#call(async () => {
      const [row] = await this.#q(this.#sql, `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`, [
        params.id,
      ]);
      return row ? toJob(row) : null;
    });
  }

  jobGetWithRuns(params: { id: string }): Promise<JobWithRuns | null> {
    return this.#call(async () => {
      // Two reads of one snapshot: a finish in between cannot mix old and new.
      const [rows, runs] = await this.#sql.begin(
        "isolation level repeatable read read only",
        (tx) =>
          Promise.all([
            this.#q(tx as unknown as Sql, `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`, [
              params.id,
            ]),
            this.#q(
              tx as unknown as Sql,
              `SELECT attempt, started_at, finished_at, outcome, exit_code, signal, error, worker_id
             FROM runs WHERE job_id = $1 ORDER BY seq`,
              [params.id],
            ),
          ]),
      ) as [Row[], Row[]];
      const row = rows[0];
      if (!row) return null;
      const job = toJob(row);
      const [deps, dependents] = await Promise.all([
        job.after === null
          ? []
          : this.#q(this.#sql, "SELECT id, state FROM jobs WHERE id = ANY($1::text[])", [
            job.after,
          ]),
        this.#q(
          this.#sql,
          `SELECT j.id, j.state FROM job_deps d JOIN jobs j ON j.id = d.job_id
           WHERE d.dep_id = $1 ORDER BY j.created_at, j.seq`,
          [params.id],
        ),
      ]);
      const states = new Map(deps.map((d) => [d.id as string, d.state as JobState]));
      return {
        ...job,
        runs: runs.map(toRun),
        dependencies: distinctIds(job.after ?? []).map((id) => ({
          id,
          state: states.get(id) ?? null,
        })),
        dependents: dependents.map((d) => ({ id: d.id as string, state: d.state as JobState })),
      };
    });
  }

  jobGetMany(params: { ids: string[] }): Promise<Job[]> {
    return this.#call(async () =>
      (await this.#q(this.#sql, `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ANY($1::text[])`, [
        params.ids,
      ])).map(toJob)
    );
  }

  jobList(params: JobListParams): Promise<JobPage> {
    return this.#call(async () => {
      const where: string[] = [];
      const args: unknown[] = [];
      const arg = (value: unknown) => {
        args.push(value);
        return `$${args.length}`;
      };
      if (params.state) where.push(`state = ${arg(params.state)}`);
      if (params.queue) where.push(`queue = ${arg(params.queue)}`);
      if (params.search) {
        // ILIKE: SQLite's LIKE ignores case too.
        const like = arg(`%${params.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
        where.push(`(id ILIKE ${like} ESCAPE '\\' OR command ILIKE ${like} ESCAPE '\\')`);
      }
      if (params.cursor) {
        const cursor = decodeCursor(params.cursor);
        if (cursor) {
          where.push(
            `(created_at, seq) < (${arg(cursor.createdAt)}::bigint, ${arg(cursor.seq)}::bigint)`,
          );
        }
      }
      const rows = await this.#q(
        this.#sql,
        `SELECT ${JOB_COLUMNS} FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY created_at DESC, seq DESC LIMIT ${arg(params.limit + 1)}`,
        args,
      );
      const page = rows.slice(0, params.limit);
      const last = page[page.length - 1];
      return {
        jobs: page.map(toJob),
        nextCursor: rows.length > params.limit && last
          ? encodeCursor(last.created_at as number, last.seq as number)
          : null,
      };
    });
  }

  jobCountByState(): Promise<Record<JobState, number>> {
    return this.#call(async () => {
      const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<
        JobState,
        number
      >;
      const rows = await this.#q(
        this.#sql,
        `SELECT state, sum(n) AS n FROM (
           SELECT state, n FROM job_counts UNION ALL SELECT state, n FROM job_count_deltas
         ) c GROUP BY state`,
      );
      for (const row of rows) {
        if (row.state as string in counts) counts[row.state as JobState] = row.n as number;
      }
      return counts;
    });
  }

  /** Locks the rows of `ids` in id order (so hosts never deadlock); a missing id is NotFound. */
  async #lockJobs(tx: Sql, ids: string[]): Promise<Map<string, JobState>> {
    const rows = await this.#q(
      tx,
      "SELECT id, state FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
      [[...new Set(ids)]],
    );
    const states = new Map(rows.map((r) => [r.id as string, r.state as JobState]));
    for (const id of ids) if (!states.has(id)) throw jobNotFound(id);
    return states;
  }

  async #jobsById(tx: Sql, ids: string[]): Promise<Job[]> {
    const rows = await this.#q(tx, `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ANY($1::text[])`, [
      [...new Set(ids)],
    ]);
    const jobs = new Map(rows.map((r) => [r.id as string, toJob(r)]));
    return ids.map((id) => jobs.get(id)!);
  }

  jobRetry(
    params: { ids: string[]; now: number; dlqOnly?: boolean | undefined },
  ): Promise<Job[]> {
    return this.#call(() =>
      this.#begin(async (tx) => {
        const states = await this.#lockJobs(tx, params.ids);
        const reset: string[] = [];
        const keep: string[] = [];
        const opens = new Map<string, number>();
        for (const id of params.ids) {
          const state = states.get(id)!;
          const plan = planRetry(id, state, params);
          (plan.resetAttempts ? reset : keep).push(id);
          states.set(id, plan.state);
          if (state === "cancelled") {
            opens.set(id, await this.#openDependencies(tx, id, new Set(params.ids)));
          }
        }
        if (params.ids.length > 0) {
          const [held] = await this.#q(
            tx,
            `SELECT j.id, o.id AS holder, j.unique_key FROM jobs j
             JOIN jobs o ON o.unique_key = j.unique_key AND o.id <> j.id AND o.state IN ${ACTIVE}
             WHERE j.id = ANY($1::text[]) AND j.unique_key IS NOT NULL
             ORDER BY j.id LIMIT 1`,
            [params.ids],
          );
          if (held) {
            throw keyHeld(held.id as string, held.unique_key as string, held.holder as string);
          }
          await this.#q(
            tx,
            `UPDATE jobs SET next_run_at = $3, updated_at = $3,
               deps_open = coalesce(o.n, 0),
               state = CASE WHEN coalesce(o.n, 0) > 0 THEN 'blocked' ELSE 'pending' END,
               attempts = CASE WHEN id = ANY($1::text[]) THEN 0 ELSE attempts END
             FROM (SELECT unnest($1::text[] || $2::text[]) AS rid) r
             LEFT JOIN (SELECT unnest($4::text[]) AS oid, unnest($5::int[]) AS n) o ON o.oid = r.rid
             WHERE jobs.id = r.rid`,
            [reset, keep, params.now, [...opens.keys()], [...opens.values()]],
          );
          await this.#notify(tx);
        }
        return await this.#jobsById(tx, params.ids);
      })
    );
  }

  /**
   * How many dependencies of a cancelled job are still open, locking them
   * (as an insert does) so none ends unseen; a dead or cancelled one is a
   * conflict unless `retried` with it, a pruned one was final and counts
   * as met.
   */
  async #openDependencies(tx: Sql, id: string, retried: Set<string>): Promise<number> {
    const rows = await this.#q(
      tx,
      `UPDATE jobs SET has_dependents = true
       WHERE id IN (SELECT j.id FROM job_deps d JOIN jobs j ON j.id = d.dep_id
                    WHERE d.job_id = $1 ORDER BY j.id FOR UPDATE OF j)
       RETURNING id, state`,
      [id],
    );
    let open = 0;
    for (const dep of rows) {
      if (dep.state === "completed") continue;
      // A dependency retried in the same call counts as open, whatever the order.
      if (!retried.has(dep.id as string)) {
        checkRetryDependency(id, dep.id as string, dep.state as JobState);
      }
      open++;
    }
    return open;
  }

  jobRetryAllDead(params: { now: number }): Promise<number> {
    return this.#call(() =>
      this.#begin(async (tx) => {
        // A dead job whose key another job holds (an active one, or a newer
        // dead one retried here too) stays dead: a key has one active job.
        const rows = await this.#q(
          tx,
          `WITH moved AS (
             UPDATE jobs SET state = 'pending', attempts = 0, next_run_at = $1, updated_at = $1
             WHERE state = 'dead' AND (unique_key IS NULL OR NOT EXISTS (
               SELECT 1 FROM jobs o WHERE o.unique_key = jobs.unique_key AND o.id <> jobs.id
                 AND (o.state IN ${ACTIVE} OR (o.state = 'dead' AND o.seq > jobs.seq))))
             RETURNING 1)
           SELECT count(*) AS n FROM moved`,
          [params.now],
        );
        const n = rows[0]!.n as number;
        if (n > 0) await this.#notify(tx);
        return n;
      })
    );
  }

  jobCancel(params: { ids: string[]; now: number }): Promise<Job[]> {
    return this.#call(() =>
      this.#begin(async (tx) => {
        const states = await this.#lockJobs(tx, params.ids);
        const cancel: string[] = [];
        const flag: string[] = [];
        for (const id of params.ids) {
          if (planCancel(id, states.get(id)!) === "cancel") {
            cancel.push(id);
            states.set(id, "cancelled");
          } else {
            flag.push(id);
          }
        }
        if (cancel.length > 0) {
          await this.#q(
            tx,
            `UPDATE jobs SET state = 'cancelled', next_run_at = NULL, updated_at = $2
             WHERE id = ANY($1::text[])`,
            [cancel, params.now],
          );
        }
        if (flag.length > 0) {
          await this.#q(
            tx,
            `UPDATE jobs SET cancel_requested = true, updated_at = $2 WHERE id = ANY($1::text[])`,
            [flag, params.now],
          );
        }
        if (params.ids.length > 0) await this.#notify(tx);
        return await this.#jobsById(tx, params.ids);
      })
    );
  }

  jobDeleteDead(params: { olderThan?: number | undefined }): Promise<number> {
    return this.#call(() =>
      this.#begin(async (tx) => {
        const cutoff = params.olderThan ?? Number.MAX_SAFE_INTEGER;
        const rows = await this.#q(
          tx,
          `WITH gone AS (
             DELETE FROM jobs WHERE state = 'dead' AND updated_at < $1 RETURNING id),
           runs_gone AS (DELETE FROM runs WHERE job_id IN (SELECT id FROM gone)),
           deps_gone AS (DELETE FROM job_deps WHERE job_id IN (SELECT id FROM gone)),
           outputs_gone AS (DELETE FROM run_outputs WHERE job_id IN (SELECT id FROM gone))
           SELECT count(*) AS n FROM gone`,
          [cutoff],
        );
        return rows[0]!.n as number;
      })
    );
  }

  jobPrune(params: PruneParams): Promise<PruneCounts> {
    const states = PRUNABLE_STATES.filter((state) => typeof params.before[state] === "number");
    const cutoffs = states.map((state) => params.before[state]!);
    return this.#call(async () => {
      const counts: PruneCounts = { completed: 0, cancelled: 0, dead: 0 };
      if (states.length === 0) return counts;
      // One statement: no explicit transaction, rows other sessions hold are
      // skipped (a batch never waits behind a claim or a retry).
      const rows = params.dryRun
        ? await this.#q(
          this.#sql,
          `SELECT c.state, (SELECT count(*) FROM jobs
             WHERE state = c.state AND updated_at < c.cutoff) AS n
           FROM unnest($1::text[], $2::int8[]) AS c(state, cutoff)`,
          [states, cutoffs],
        )
        : await this.#q(
          this.#sql,
          `WITH doomed AS MATERIALIZED (
             SELECT j.seq FROM unnest($1::text[], $2::int8[]) AS c(state, cutoff),
               LATERAL (SELECT seq FROM jobs
                 WHERE state = c.state AND updated_at < c.cutoff
                 LIMIT $3 FOR UPDATE SKIP LOCKED) j
             LIMIT $3),
           gone AS (
             DELETE FROM jobs WHERE seq IN (SELECT seq FROM doomed)
               AND state = ANY($1::text[]) RETURNING id, state),
           runs_gone AS (DELETE FROM runs WHERE job_id IN (SELECT id FROM gone)),
           deps_gone AS (DELETE FROM job_deps WHERE job_id IN (SELECT id FROM gone)),
           outputs_gone AS (DELETE FROM run_outputs WHERE job_id IN (SELECT id FROM gone))
           SELECT state, count(*) AS n FROM gone GROUP BY state`,
          [states, cutoffs, params.limit ?? Number.MAX_SAFE_INTEGER],
        );
      for (const row of rows) counts[row.state as keyof PruneCounts] = row.n as number;
      return counts;
    });
  }

  jobClaim(params: ClaimParams): Promise<ClaimedJob[]> {
    if (params.limit <= 0) return Promise.resolve([]);
    // One statement, no explicit transaction: pick (skipping rows other
    // claimers hold), update, and start the runs, in one round trip. The
    // queue filter is its own statement text, so each plan uses the index.
    // Paused and limited queues are left out here (an initplan over the
    // small queues table); the statement also returns the limited queues,
    // which are claimed from under their lock only when some exist.
    return this.#call(async () =>
      toClaimed(await this.#claimRest(params, await this.#claimOn(this.#sql, params)))
    );
  }

  /**
   * The rows of the claim's main statement, plus what the limited queues
   * it named give under their locks (a transaction of their own) while
   * room is left.
   */
  async #claimRest(
    params: ClaimParams,
    main: { claimed: Row[]; limited: string[] },
  ): Promise<Row[]> {
    const { claimed, limited } = main;
    const room = params.limit - claimed.length;
    if (limited.length === 0 || room <= 0) return claimed;
    const more = await this.#begin((tx) =>
      this.#claimLimited(tx, { ...params, limit: room }, limited)
    );
    return [...claimed, ...more];
  }

  /**
   * The claim's main statement on `db` (a connection or a transaction):
   * the claimed rows, and the limited queues this worker serves (claimed
   * from by `#claimLimited` when room is left).
   */
  async #claimOn(db: Sql, params: ClaimParams): Promise<{ claimed: Row[]; limited: string[] }> {
    const { workerId, now } = params;
    const queueFilter = params.queues ? "AND queue = ANY($6::text[])" : "";
    const args: unknown[] = [workerId, now + params.leaseMs, now, params.limit, now];
    if (params.queues) args.push(params.queues);
    const rows = await this.#q(
      db,
      `WITH held AS MATERIALIZED (
           SELECT name, paused FROM queues WHERE paused OR concurrency > 0),
         picked AS MATERIALIZED (
           SELECT seq FROM jobs
           WHERE state IN ('pending', 'failed') AND next_run_at <= $5::bigint ${queueFilter}
             AND queue <> ALL (ARRAY(SELECT name FROM held))
           ORDER BY priority DESC, next_run_at, seq
           LIMIT $4
           FOR UPDATE SKIP LOCKED),
         claimed AS (
           UPDATE jobs j SET state = 'processing', attempts = j.attempts + 1, worker_id = $1,
             lease_expires_at = $2::bigint, updated_at = $3::bigint, cancel_requested = false
           FROM picked WHERE j.seq = picked.seq
           RETURNING j.${JOB_COLUMNS.replace(/,\s*/g, ", j.")}),
         started AS (
           INSERT INTO runs (job_id, attempt, worker_id, started_at)
           SELECT id, attempts, $1, $3::bigint FROM claimed ORDER BY seq)
         SELECT l.limited_queues, c.*
         FROM (SELECT array_agg(name) AS limited_queues FROM held WHERE NOT paused) l
         LEFT JOIN claimed c ON true
         ORDER BY c.priority DESC, c.next_run_at, c.seq`,
      args,
    );
    const limited = ((rows[0]?.limited_queues as string[] | null | undefined) ?? [])
      .filter((name) => params.queues === null || params.queues.includes(name));
    return { claimed: rows.filter((row) => row.id !== null), limited };
  }

  /**
   * Claims from limited queues: under an advisory lock per queue (taken in
   * one order by everyone, so no deadlock), counts each queue's running
   * jobs and takes at most the room left, in transaction `tx` (the locks
   * last until it ends). Claims of other queues never take these locks.
   */
  async #claimLimited(
    tx: Sql,
    params: { workerId: string; limit: number; now: number; leaseMs: number },
    queues: string[],
  ): Promise<Row[]> {
    const { workerId, now } = params;
    const keys = [...new Set(queues.map((q) => hash32(`${this.#url.schema}:${LOCK_QUEUE}:${q}`)))]
      .sort((a, b) => a - b);
    await this.#q(
      tx,
      "SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int[]) AS k ORDER BY k",
      [LOCK_CLASS, keys],
    );
    return await this.#q(
      tx,
      `WITH lim AS (
           SELECT q.name, least($4::int, q.concurrency - (
             SELECT count(*) FROM jobs r WHERE r.state = 'processing' AND r.queue = q.name))::int
             AS room
           FROM queues q WHERE q.name = ANY($6::text[]) AND NOT q.paused AND q.concurrency > 0),
         picked AS MATERIALIZED (
           SELECT x.seq FROM lim CROSS JOIN LATERAL (
             SELECT seq, priority, next_run_at FROM jobs
             WHERE state IN ('pending', 'failed') AND next_run_at <= $5::bigint
               AND queue = lim.name
             ORDER BY priority DESC, next_run_at, seq
             LIMIT greatest(lim.room, 0)
             FOR UPDATE SKIP LOCKED) x
           ORDER BY x.priority DESC, x.next_run_at, x.seq
           LIMIT $4),
         claimed AS (
           UPDATE jobs j SET state = 'processing', attempts = j.attempts + 1, worker_id = $1,
             lease_expires_at = $2::bigint, updated_at = $3::bigint, cancel_requested = false
           FROM picked WHERE j.seq = picked.seq
           RETURNING j.${JOB_COLUMNS.replace(/,\s*/g, ", j.")}),
         started AS (
           INSERT INTO runs (job_id, attempt, worker_id, started_at)
           SELECT id, attempts, $1, $3::bigint FROM claimed ORDER BY seq)
         SELECT * FROM claimed`,
      [workerId, now + params.leaseMs, now, params.limit, now, queues],
    );
  }

  jobNextDueAt(params: { queues: string[] | null }): Promise<number | null> {
    return this.#call(async () => {
      const [row] = params.queues
        ? await this.#q(
          this.#sql,
          `SELECT next_run_at AS at FROM jobs
           WHERE state IN ('pending', 'failed') AND queue = ANY($1::text[])
           ORDER BY next_run_at LIMIT 1`,
          [params.queues],
        )
        : await this.#q(
          this.#sql,
          `SELECT next_run_at AS at FROM jobs WHERE state IN ('pending', 'failed')
           ORDER BY next_run_at LIMIT 1`,
        );
      return (row?.at as number | null | undefined) ?? null;
    });
  }

  jobListStranded(params: { now: number; workerIds: string[] }): Promise<StrandedJob[]> {
    return this.#call(async () => {
      const rows = await this.#q(
        this.#sql,
        `SELECT j.*, r.started_at AS run_started_at, r.host AS run_host, r.pgid AS run_pgid,
           r.proc_start AS run_proc_start
         FROM jobs j
         LEFT JOIN LATERAL (
           SELECT started_at, host, pgid, proc_start FROM runs
           WHERE job_id = j.id AND attempt = j.attempts ORDER BY seq DESC LIMIT 1) r ON true
         WHERE j.state = 'processing'
           AND (j.lease_expires_at < $1::bigint OR j.worker_id = ANY($2::text[]))
         ORDER BY j.seq`,
        [params.now, params.workerIds],
      );
      return rows.map((row) => ({
        ...toJob(row),
        attempt: row.attempts as number,
        started_at: (row.run_started_at as number | null) ?? (row.updated_at as number),
        host: row.run_host as string | null,
        pgid: row.run_pgid as number | null,
        proc_start: row.run_proc_start as string | null,
      }));
    });
  }

  /** One statement for every start: it touches only runs rows, so it needs no transaction of its own. */
  #recordStarts(db: Sql, starts: RunStart[]): Promise<unknown> {
    if (starts.length === 0) return Promise.resolve();
    const sorted = [...starts].sort(byId);
    return this.#q(
      db,
      `UPDATE runs r SET host = s.host, pgid = s.pgid, proc_start = s.proc_start
       FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[])
         AS s(host, pgid, proc_start, job_id, attempt, worker_id)
       WHERE r.job_id = s.job_id AND r.attempt = s.attempt AND r.worker_id = s.worker_id
         AND r.finished_at IS NULL`,
      [
        sorted.map((s) => s.host),
        sorted.map((s) => s.pgid),
        sorted.map((s) => s.procStart),
        sorted.map((s) => s.id),
        sorted.map((s) => s.attempt),
        sorted.map((s) => s.workerId),
      ],
    );
  }

  /** Snapshots go to the unlogged `run_outputs`, never rewriting the runs row. */
  #recordOutputs(tx: Sql, updates: RunOutputUpdate[]): Promise<unknown> {
    return Promise.all(
      [...updates].sort(byId).map((u) =>
        this.#q(
          tx,
          `INSERT INTO run_outputs (job_id, attempt, stdout, stderr)
           SELECT $1, $2, $3, $4
           WHERE EXISTS (
             SELECT 1 FROM runs WHERE job_id = $1 AND attempt = $2 AND finished_at IS NULL)
           ON CONFLICT (job_id, attempt)
             DO UPDATE SET stdout = excluded.stdout, stderr = excluded.stderr`,
          [u.id, u.attempt, u.stdout, u.stderr],
        )
      ),
    );
  }

  async #recordFinishes(db: Sql, finishes: RunFinish[]): Promise<string[]> {
    const sorted = [...finishes].sort(byId);
    const results = await Promise.all(sorted.map((f) =>
      this.#q(
        db,
        `WITH job AS (
           UPDATE jobs SET state = $1, next_run_at = $2, updated_at = $3, last_error = $4,
             lease_expires_at = NULL, cancel_requested = false, attempts = attempts - $5
           WHERE id = $6 AND state = 'processing' AND worker_id = $7 AND attempts = $8
           RETURNING id),
         live AS (
           DELETE FROM run_outputs WHERE job_id = $6 AND attempt = $8 AND EXISTS (SELECT 1 FROM job)
           RETURNING stdout, stderr),
         run AS (
           UPDATE runs SET finished_at = $3, outcome = $9, exit_code = $10, signal = $11,
             error = $12,
             stdout = coalesce($13, (SELECT stdout FROM live), stdout),
             stderr = coalesce($14, (SELECT stderr FROM live), stderr)
           WHERE seq = (SELECT max(seq) FROM runs WHERE job_id = $6 AND attempt = $8)
             AND EXISTS (SELECT 1 FROM job)),
         -- Only a job that can run again is news to idle workers. Repeats in
         -- one transaction are delivered once, so each finish may send it.
         wake AS (SELECT pg_notify($15, '') FROM job WHERE $1 IN ('pending', 'failed')),
         -- A job's end is news to waiters and live views only: their own channel.
         ended AS (SELECT pg_notify($16, '') FROM job WHERE $1 NOT IN ('pending', 'failed'))
         SELECT id, (SELECT count(*) FROM wake) + (SELECT count(*) FROM ended) AS woke FROM job`,
        [
          f.state,
          f.nextRunAt,
          f.finishedAt,
          f.outcome === "succeeded" ? null : f.error,
          f.uncountAttempt ? 1 : 0,
          f.id,
          f.workerId,
          f.attempt,
          f.outcome,
          f.exitCode,
          f.signal,
          f.error,
          f.stdout,
          f.stderr,
          this.#channel,
          this.#doneChannel,
        ],
      )
    ));
    const applied = new Set<string>();
    sorted.forEach((f, i) => {
      if (results[i]!.length > 0) applied.add(f.id);
    });
    return finishes.filter((f) => applied.has(f.id)).map((f) => f.id);
  }

  runStartMany(params: { starts: RunStart[] }): Promise<void> {
    if (params.starts.length === 0) return Promise.resolve();
    return this.#call(async () => {
      await this.#recordStarts(this.#sql, params.starts);
    });
  }

  runOutputUpdateMany(params: { updates: RunOutputUpdate[] }): Promise<void> {
    if (params.updates.length === 0) return Promise.resolve();
    return this.#call(async () => {
      await this.#begin((tx) => this.#recordOutputs(tx, params.updates));
    });
  }

  runFinishMany(params: { finishes: RunFinish[] }): Promise<string[]> {
    if (params.finishes.length === 0) return Promise.resolve([]);
    // One finish is one statement: atomic without BEGIN and COMMIT round trips.
    if (params.finishes.length === 1) {
      return this.#call(() => this.#recordFinishes(this.#sql, params.finishes));
    }
    return this.#call(() => this.#begin((tx) => this.#recordFinishes(tx, params.finishes)));
  }

  async runRecordMany(params: {
    starts: RunStart[];
    outputs: RunOutputUpdate[];
    finishes: RunFinish[];
    claim?: ClaimParams | undefined;
  }): Promise<RecordResult> {
    const { starts, outputs, finishes, claim } = params;
    if (!claim || claim.limit <= 0) {
      return { applied: await this.#record(starts, outputs, finishes), claimed: [] };
    }
    return await this.#call(async () => {
      // One round trip: BEGIN, the records, the claim and COMMIT go out
      // together on one connection (postgres.js pipelines its queries) and
      // run in that order, all or nothing (after a failed statement the
      // server turns the COMMIT into a rollback).
      const db = await this.#sql.reserve();
      const conn = db as unknown as Sql;
      // Made in this order, so sent in this order (#q sends at once).
      const begin = this.#q(conn, "BEGIN");
      const started = this.#recordStarts(conn, starts);
      const output = this.#recordOutputs(conn, outputs);
      const finished = finishes.length === 0
        ? Promise.resolve([])
        : this.#recordFinishes(conn, finishes);
      const main = this.#claimOn(conn, claim);
      const commit = this.#q(conn, "COMMIT");
      try {
        const settled = await Promise.allSettled([begin, started, output, finished, main, commit]);
        const failed = settled.find((r) => r.status === "rejected");
        if (failed) throw failed.reason;
      } finally {
        db.release();
      }
      // Limited queues (rare) come after, in a transaction of their own:
      // the records stand whatever it meets.
      const first = await main;
      const claimed = await this.#claimRest(claim, first).catch(() => first.claimed);
      return { applied: await finished, claimed: toClaimed(claimed) };
    });
  }

  #record(
    starts: RunStart[],
    outputs: RunOutputUpdate[],
    finishes: RunFinish[],
  ): Promise<string[]> {
    if (starts.length + outputs.length + finishes.length === 0) return Promise.resolve([]);
    if (outputs.length === 0 && finishes.length <= 1) {
      // The common flush of a busy worker: a few starts and at most one
      // finish, each one statement and atomic on its own, without BEGIN
      // and COMMIT round trips. (Starts and a finish need not commit
      // together: each is guarded on its own.)
      return this.#call(async () => {
        await this.#recordStarts(this.#sql, starts);
        return finishes.length === 0 ? [] : await this.#recordFinishes(this.#sql, finishes);
      });
    }
    return this.#call(() =>
      this.#begin(async (tx) => {
        await this.#recordStarts(tx, starts);
        await this.#recordOutputs(tx, outputs);
        return await this.#recordFinishes(tx, finishes);
      })
    );
  }

  runOutputGet(
    params: { id: string; attempt?: number | undefined; run?: number | undefined },
  ): Promise<RunOutput | null> {
    return this.#call(async () => {
      const pick = params.run !== undefined
        ? { where: "job_id = $1", order: "seq", offset: params.run - 1, args: [params.id] }
        : params.attempt === undefined
        ? { where: "job_id = $1", order: "seq DESC", offset: 0, args: [params.id] }
        : {
          where: "job_id = $1 AND attempt = $2",
          order: "seq DESC",
          offset: 0,
          args: [params.id, params.attempt],
        };
      if (pick.offset < 0) return null;
      // A running attempt's output is its live snapshot.
      const [row] = await this.#q(
        this.#sql,
        `SELECT r.attempt,
           CASE WHEN r.finished_at IS NULL THEN coalesce(o.stdout, r.stdout) ELSE r.stdout END
             AS stdout,
           CASE WHEN r.finished_at IS NULL THEN coalesce(o.stderr, r.stderr) ELSE r.stderr END
             AS stderr
         FROM (SELECT attempt, finished_at, stdout, stderr FROM runs WHERE ${pick.where}
               ORDER BY ${pick.order} LIMIT 1 OFFSET ${pick.offset}) r
         LEFT JOIN run_outputs o ON r.finished_at IS NULL AND o.job_id = $1
           AND o.attempt = r.attempt`,
        pick.args,
      );
      if (!row) return null;
      return {
        id: params.id,
        attempt: row.attempt as number,
        stdout: text(row.stdout),
        stderr: text(row.stderr),
      };
    });
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
    return this.#call(async () => {
      await this.#q(
        this.#sql,
        `INSERT INTO workers (id, pid, host, count, queues, started_at, heartbeat_at,
           stop_requested, role, clock_offset_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $6, NULL, $7, $8)
         ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host,
           count = excluded.count, queues = excluded.queues, started_at = excluded.started_at,
           heartbeat_at = excluded.heartbeat_at, stop_requested = NULL, role = excluded.role,
           clock_offset_ms = excluded.clock_offset_ms`,
        [
          params.id,
          params.pid,
          params.host,
          params.count,
          params.queues ? JSON.stringify(params.queues) : null,
          params.now,
          params.role ?? "worker",
          Math.round(params.clockOffsetMs ?? 0),
        ],
      );
    });
  }

  /**
   * Renews the heartbeat and leases, re-measures the clock offset from the
   * same round trip, and folds the count deltas when no one else is.
   */
  workerHeartbeat(
    params: { id: string; now: number; leaseMs: number; clockOffsetMs?: number },
  ): Promise<HeartbeatReply> {
    return this.#call(() =>
      this.#begin(async (tx) => {
        const before = localNow();
        const [worker] = await this.#q(
          tx,
          `WITH w AS (UPDATE workers SET heartbeat_at = $2, clock_offset_ms = $3 WHERE id = $1
             RETURNING stop_requested)
           SELECT (SELECT stop_requested FROM w) AS stop_requested, ${SERVER_MS} AS ms`,
          [params.id, params.now, Math.round(params.clockOffsetMs ?? 0)],
        );
        this.#setOffset(worker!.ms as number, before, localNow());
        const [jobs] = await Promise.all([
          this.#q(
            tx,
            `UPDATE jobs SET lease_expires_at = $2
             WHERE seq IN (
               SELECT seq FROM jobs WHERE state = 'processing' AND worker_id = $1
               ORDER BY id FOR UPDATE)
             RETURNING id, cancel_requested`,
            [params.id, params.now + params.leaseMs],
          ),
          this.#foldCounts(tx),
        ]);
        return {
          stopRequested: (worker!.stop_requested as "graceful" | "force" | null) ?? null,
          cancelRequested: jobs.filter((j) => j.cancel_requested).map((j) => j.id as string)
            .sort(),
        };
      })
    );
  }

  /**
   * Folds the count deltas into the base counts, unless another session is
   * doing so (then it is skipped, not waited for). Exact: the deltas a
   * statement deletes are the ones it adds, in one commit.
   */
  #foldCounts(tx: Sql): Promise<Row[]> {
    return this.#q(
      tx,
      `WITH lock AS (SELECT pg_try_advisory_xact_lock($1, $2) AS got),
       d AS (DELETE FROM job_count_deltas WHERE (SELECT got FROM lock) RETURNING state, n),
       s AS (SELECT state, sum(n) AS n FROM d GROUP BY state)
       UPDATE job_counts c SET n = c.n + s.n FROM s WHERE c.state = s.state`,
      [LOCK_CLASS, hash32(`${this.#url.schema}:${LOCK_FOLD_COUNTS}`)],
    );
  }

  workerRequestsGet(params: { id: string }): Promise<HeartbeatReply> {
    return this.#call(async () => {
      const [row] = await this.#q(
        this.#sql,
        `SELECT (SELECT stop_requested FROM workers WHERE id = $1) AS stop_requested,
           ARRAY(SELECT id FROM jobs WHERE state = 'processing' AND worker_id = $1
                 AND cancel_requested ORDER BY id) AS cancelled`,
        [params.id],
      );
      return {
        stopRequested: (row!.stop_requested as "graceful" | "force" | null) ?? null,
        cancelRequested: row!.cancelled as string[],
      };
    });
  }

  workerRemove(params: { id: string }): Promise<void> {
    return this.#call(async () => {
      await this.#q(this.#sql, "DELETE FROM workers WHERE id = $1", [params.id]);
    });
  }

  async #workers(where: string, args: unknown[], lateBefore: number): Promise<WorkerInfo[]> {
    const rows = await this.#q(
      this.#sql,
      `SELECT w.*, ARRAY(SELECT id FROM jobs
           WHERE state = 'processing' AND worker_id = w.id ORDER BY id) AS current_jobs
       FROM workers w ${where} ORDER BY started_at, id`,
      args,
    );
    return rows.map((row) => toWorker(row, row.current_jobs as string[], lateBefore));
  }

  workerList(params: { staleBefore: number; lateBefore?: number }): Promise<WorkerInfo[]> {
    return this.#call(() =>
      this.#workers(
        "WHERE heartbeat_at >= $1",
        [params.staleBefore],
        params.lateBefore ?? -Infinity,
      )
    );
  }

  workerListAll(): Promise<WorkerInfo[]> {
    return this.#call(() => this.#workers("", [], -Infinity));
  }

  turnTake(
    params: { name?: string | undefined; holder: string; now: number; ttlMs: number },
  ): Promise<boolean> {
    return this.#call(async () => {
      const rows = await this.#q(
        this.#sql,
        `INSERT INTO turns (name, holder, until) VALUES ($4, $1, $2)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
         WHERE turns.holder = excluded.holder OR turns.until < $3
         RETURNING holder`,
        [params.holder, params.now + params.ttlMs, params.now, params.name ?? "rescuer"],
      );
      return rows.length > 0;
    });
  }

  workerRequestStop(params: { ids?: string[]; mode: "graceful" | "force" }): Promise<number> {
    return this.#call(() =>
      this.#begin(async (tx) => {
        const rows = await this.#q(
          tx,
          `WITH asked AS (
             UPDATE workers SET stop_requested = $1
             WHERE ${params.ids ? "id = ANY($2::text[])" : "true"} RETURNING 1)
           SELECT count(*) AS n FROM asked`,
          params.ids ? [params.mode, params.ids] : [params.mode],
        );
        const n = rows[0]!.n as number;
        if (n > 0) await this.#notify(tx);
        return n;
      })
    );
  }

  jobNextRetryAt(): Promise<number | null> {
    return this.#earliest("SELECT min(next_run_at) AS at FROM jobs WHERE state = 'failed'");
  }

  /** The `at` of a `SELECT min(…) AS at` read, or `null` when no row has one. */
  #earliest(sql: string): Promise<number | null> {
    return this.#call(async () => {
      const [row] = await this.#q(this.#sql, sql);
      return (row?.at as number | null | undefined) ?? null;
    });
  }

  runFinishedCounts(params: { since: number; bucketMs: number }): Promise<FinishedCount[]> {
    return this.#call(async () => {
      // finished_at >= since, so integer division is the floor.
      const rows = await this.#q(
        this.#sql,
        `SELECT (finished_at - $1::bigint) / $2::bigint AS bucket,
           count(*) FILTER (WHERE outcome = 'succeeded') AS completed,
           count(*) FILTER (WHERE outcome <> 'succeeded') AS failed
         FROM runs WHERE finished_at IS NOT NULL AND finished_at >= $1::bigint
         GROUP BY bucket`,
        [params.since, Math.max(1, Math.round(params.bucketMs))],
      );
      return rows.map((row) => ({
        bucket: row.bucket as number,
        completed: row.completed as number,
        failed: row.failed as number,
      }));
    });
  }

  runTotals(): Promise<{ outcome: RunOutcome; count: number; duration_ms_sum: number }[]> {
    return this.#call(async () => {
      const rows = await this.#q(
        this.#sql,
        `SELECT outcome, count(*) AS count, sum(finished_at - started_at) AS duration_ms_sum
         FROM runs WHERE finished_at IS NOT NULL GROUP BY outcome ORDER BY outcome`,
      );
      return rows.map((row) => ({
        outcome: row.outcome as RunOutcome,
        count: row.count as number,
        duration_ms_sum: (row.duration_ms_sum as number | null) ?? 0,
      }));
    });
  }

  scheduleInsert(params: { schedule: NewSchedule; now: number }): Promise<Schedule> {
    const { schedule: s, now } = params;
    return this.#call(() =>
      this.#begin(async (tx) => {
        const [row] = await this.#q(
          tx,
          `INSERT INTO schedules (name, cron, tz, catch_up, overlap, job, paused, next_run_at,
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (name) DO NOTHING RETURNING *`,
          [
            s.name,
            s.cron,
            s.tz,
            s.catch_up,
            s.overlap,
            JSON.stringify(s.job),
            s.paused,
            s.next_run_at,
            now,
          ],
        );
        if (!row) throw scheduleNameTaken(s.name);
        // Sleeping firers re-read their timer.
        await this.#notify(tx);
        return toSchedule(row);
      })
    );
  }

  scheduleGet(params: { name: string }): Promise<Schedule | null> {
    return this.#call(async () => {
      const [row] = await this.#q(this.#sql, "SELECT * FROM schedules WHERE name = $1", [
        params.name,
      ]);
      return row ? toSchedule(row) : null;
    });
  }

  scheduleList(): Promise<Schedule[]> {
    return this.#call(async () =>
      (await this.#q(this.#sql, "SELECT * FROM schedules ORDER BY name")).map(toSchedule)
    );
  }

  scheduleDelete(params: { name: string }): Promise<void> {
    return this.#call(async () => {
      const rows = await this.#q(
        this.#sql,
        "DELETE FROM schedules WHERE name = $1 RETURNING name",
        [params.name],
      );
      if (rows.length === 0) throw scheduleNotFound(params.name);
    });
  }

  scheduleSetPaused(
    params: { name: string; paused: boolean; nextRunAt?: number | null | undefined },
  ): Promise<Schedule> {
    return this.#call(() =>
      this.#begin(async (tx) => {
        const [row] = await this.#q(
          tx,
          `UPDATE schedules SET paused = $1,
             next_run_at = CASE WHEN $2 THEN $3::bigint ELSE next_run_at END
           WHERE name = $4 RETURNING *`,
          [params.paused, params.nextRunAt !== undefined, params.nextRunAt ?? null, params.name],
        );
        if (!row) throw scheduleNotFound(params.name);
        await this.#notify(tx);
        return toSchedule(row);
      })
    );
  }

  scheduleFireMany(params: { fires: ScheduleFire[]; now: number }): Promise<ScheduleFireResult[]> {
    const { fires, now } = params;
    if (fires.length === 0) return Promise.resolve([]);
    return this.#call(() =>
      this.#begin(async (tx) => {
        // Rows are locked in name order: firers of overlapping sets never deadlock.
        const order = fires.map((_, i) => i).sort((a, b) =>
          fires[a]!.name < fires[b]!.name ? -1 : fires[a]!.name > fires[b]!.name ? 1 : 0
        );
        const results: ScheduleFireResult[] = new Array(fires.length);
        for (const i of order) results[i] = await this.#fire(tx, fires[i]!, now);
        // Wakes idle workers for the new jobs (a time that only moved on wakes nobody).
        if (results.some((r) => r.inserted.length > 0)) await this.#notify(tx);
        return results;
      })
    );
  }

  /** One schedule's fire inside the caller's transaction `tx`. */
  async #fire(tx: Sql, fire: ScheduleFire, now: number): Promise<ScheduleFireResult> {
    const { name, jobs } = fire;
    let row: Row | undefined;
    if (fire.expectedNextRunAt !== null) {
      // The guard: of every process that read this due time, one advances
      // it; the others wait for its row lock, then find it moved on.
      [row] = await this.#q(
        tx,
        `UPDATE schedules SET next_run_at = $1, missed = missed + $2
         WHERE name = $3 AND next_run_at = $4 AND NOT paused
         RETURNING last_job_id`,
        [fire.nextRunAt, fire.missed, name, fire.expectedNextRunAt],
      );
      if (!row) return { fired: false, inserted: [], skipped: [] };
    } else {
      [row] = await this.#q(
        tx,
        "SELECT last_job_id FROM schedules WHERE name = $1 FOR UPDATE",
        [name],
      );
      if (!row) throw scheduleNotFound(name);
    }
    const inserted: string[] = [];
    const skipped: string[] = [];
    let lastJobId = row.last_job_id as string | null;
    let lastRunAt: number | null = null;
    for (const job of jobs) {
      // Without overlap each job carries the key schedule:<name>: while the
      // previous one is active the unique index over active keys refuses
      // the row, and DO NOTHING makes that a skip (an id already taken too).
      const added = await this.#q(
        tx,
        `INSERT INTO jobs (id, command, state, queue, priority, max_retries, timeout,
           env, cwd, created_at, updated_at, next_run_at, retry_on, unique_key)
         VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12)
         ON CONFLICT DO NOTHING RETURNING id`,
        [
          job.id,
          job.command,
          job.queue,
          job.priority,
          job.max_retries,
          job.timeout,
          job.env === null ? null : JSON.stringify(job.env),
          job.cwd,
          now,
          job.run_at,
          job.retry_on === null ? null : JSON.stringify(job.retry_on),
          job.key,
        ],
      );
      if (added.length === 0) {
        skipped.push(job.id);
        continue;
      }
      inserted.push(job.id);
      lastJobId = job.id;
      lastRunAt = job.run_at;
    }
    if (inserted.length > 0) {
      await this.#q(tx, "INSERT INTO job_count_deltas (state, n) VALUES ('pending', $1)", [
        inserted.length,
      ]);
    }
    const countSkips = fire.expectedNextRunAt !== null ? skipped.length : 0;
    if (inserted.length > 0 || countSkips > 0) {
      await this.#q(
        tx,
        `UPDATE schedules SET skipped = skipped + $1,
           last_run_at = coalesce($2::bigint, last_run_at), last_job_id = $3
         WHERE name = $4`,
        [countSkips, lastRunAt, lastJobId, name],
      );
    }
    return { fired: true, inserted, skipped };
  }

  scheduleNextDueAt(): Promise<number | null> {
    return this.#earliest("SELECT min(next_run_at) AS at FROM schedules WHERE NOT paused");
  }

  scheduleListDue(params: { now: number; limit: number }): Promise<Schedule[]> {
    return this.#call(async () =>
      (await this.#q(
        this.#sql,
        `SELECT * FROM schedules WHERE NOT paused AND next_run_at <= $1
         ORDER BY next_run_at LIMIT $2`,
        [params.now, params.limit],
      )).map(toSchedule)
    );
  }

  configGetAll(): Promise<Config> {
    return this.#call(async () => {
      const config = defaultConfig();
      for (const row of await this.#q(this.#sql, "SELECT key, value FROM config")) {
        try {
          config[parseConfigKey(row.key as string)] = JSON.parse(row.value as string);
        } catch {
          // A key from a newer version: ignore rather than fail every command.
        }
      }
      return config;
    });
  }

  configSet(params: { key: ConfigKey; value: number }): Promise<void> {
    return this.#call(async () => {
      await this.#begin(async (tx) => {
        await this.#q(
          tx,
          `INSERT INTO config (key, value) VALUES ($1, $2)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
          [params.key, JSON.stringify(params.value)],
        );
        await this.#notify(tx);
      });
    });
  }

  queueList(): Promise<QueueInfo[]> {
    return this.#call(async () => {
      const [settings, counts] = await Promise.all([
        this.#q(this.#sql, "SELECT name, paused, concurrency FROM queues"),
        this.#q(this.#sql, "SELECT queue, state, count(*) AS n FROM jobs GROUP BY queue, state"),
      ]);
      return toQueues(settings, counts);
    });
  }

  queueSet(
    params: { name: string; paused?: boolean | undefined; concurrency?: number | undefined },
  ): Promise<void> {
    return this.#call(async () => {
      await this.#begin(async (tx) => {
        await this.#q(
          tx,
          `INSERT INTO queues (name, paused, concurrency)
           VALUES ($1, coalesce($2::boolean, false), coalesce($3::int, 0))
           ON CONFLICT (name) DO UPDATE SET paused = coalesce($2::boolean, queues.paused),
             concurrency = coalesce($3::int, queues.concurrency)`,
          [params.name, params.paused ?? null, params.concurrency ?? null],
        );
        await this.#notify(tx);
      });
    });
  }

  #size(db: Sql): Promise<Row[]> {
    return this.#q(
      db,
      `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 AS n
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [this.#url.schema],
    );
  }

  storeSize(): Promise<number> {
    return this.#call(async () => (await this.#size(this.#sql))[0]!.n as number);
  }

  async storeVacuum(): Promise<{ before: number; after: number }> {
    const before = await this.storeSize();
    // VACUUM runs outside a transaction and may take longer than the
    // statement timeout of every other call: a connection of its own.
    try {
      const conn = await this.#sql.reserve();
      try {
        await conn.unsafe("SET statement_timeout = 0");
        await conn.unsafe(`VACUUM (ANALYZE) ${TABLES.join(", ")}`);
        await conn.unsafe("RESET statement_timeout");
      } finally {
        conn.release();
      }
    } catch (error) {
      throw toStorageError(error, this.#url);
    }
    return { before, after: await this.storeSize() };
  }

  storeBackup(_params: { path: string }): Promise<{ bytes: number }> {
    return Promise.reject(
      new UsageError(
        "backup copies a SQLite database; this one is PostgreSQL",
        `use pg_dump, e.g. pg_dump --schema=${this.#url.schema} ...`,
      ),
    );
  }
}
