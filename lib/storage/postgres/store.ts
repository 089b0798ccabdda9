/**
 * The PostgreSQL store on postgres.js (`npm:postgres`). All PostgreSQL SQL
 * lives in this folder, one module per noun (`jobs.ts`, `claim.ts`,
 * `runs.ts`, …, the same names as the SQLite store's); this class opens
 * and migrates the database and hands each call to its noun's module.
 * Rows come back shaped like SQLite's (the same columns, epoch-ms numbers,
 * `env` JSON text, output bytes), so `_rows.ts` maps both.
 *
 * Many hosts share one database, so: claims are one statement with
 * `FOR UPDATE SKIP LOCKED`; multi-row updates lock rows in id order (no
 * deadlocks between hosts); times come from the server's clock
 * ({@linkcode PostgresStorage.now}); idle workers wake by LISTEN/NOTIFY,
 * sent inside the writing transaction only when something becomes
 * claimable or a request arrives (never for claims, heartbeats or output).
 */
import postgres from "postgres";
import { localNow } from "../../clock.ts";
import type { Config } from "../../config.ts";
import { StorageError } from "../../errors.ts";
import type { JobState, RunOutcome } from "../../job.ts";
import type { Schedule } from "../../schedule.ts";
import type { Params, QueueInfo, Storage, WatchOptions, WorkerInfo } from "../storage.ts";
import * as claim from "./claim.ts";
import * as config from "./config.ts";
import * as controls from "./controls.ts";
import {
  begin,
  call,
  CALL_TIMEOUT_MS,
  driverOptions,
  hash32,
  LOCK_CLASS,
  LOCK_MIGRATE,
  type PgDb,
  pgDb,
  q,
  SERVER_MS,
  setOffset,
  type Sql,
} from "./connection.ts";
import * as database from "./database.ts";
import * as events from "./events.ts";
import * as flow from "./flow.ts";
import { sqlState } from "./errors.ts";
import * as jobs from "./jobs.ts";
import { type Listeners, watchChanges } from "./listener.ts";
import * as queues from "./queues.ts";
import * as runs from "./runs.ts";
import * as schedules from "./schedules.ts";
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from "./schema.ts";
import { parsePostgresUrl, type PostgresUrl } from "./url.ts";
import * as workers from "./workers.ts";

/**
 * Errors of postgres.js 3.4.9 that escape every caller when the server
 * ends a connection mid-query (a terminated backend, a restart): a queued
 * write flushed (a `setImmediate`) after the driver dropped the socket,
 * an uncaught TypeError; and the server's "terminating connection" error
 * rejecting a promise no caller holds. Either would end the whole worker
 * process (DESIGN.md, "PostgreSQL"). The calls they belong to have failed
 * with the connection, or fail by the store's call deadline; these strays
 * are dropped, and every other error still ends the process.
 */
export function isDriverConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (!/postgres\/[\d.]+\/src\/connection\.js/.test(error.stack ?? "")) return false;
  if (error instanceof TypeError) return /reading 'write'/.test(error.message);
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" &&
    (/^57P0[123]$/.test(code) || /^CONNECTION_(CLOSED|DESTROYED|ENDED)$/.test(code));
}

globalThis.addEventListener("error", (event) => {
  if (isDriverConnectionLoss(event.error)) event.preventDefault();
});
globalThis.addEventListener("unhandledrejection", (event) => {
  if (isDriverConnectionLoss(event.reason)) event.preventDefault();
});

/** The PostgreSQL implementation of {@linkcode Storage}. */
export class PostgresStorage implements Storage {
  readonly location: string;
  /** Set by open(), from the server. */
  engine = "PostgreSQL";
  /** The pool, URL, channels and clock offset every noun module takes. */
  #pg: PgDb;
  /** The LISTEN connections: one for workers' wake-ups, one that also hears job ends. */
  #listeners: Listeners = new Map();
  #closing: Promise<void> | null = null;

  private constructor(url: PostgresUrl, sql: Sql) {
    this.#pg = pgDb(url, sql);
    this.location = url.display;
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
      await call(store.#pg, async () => {
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

  async #measureClock(): Promise<void> {
    const started = performance.now();
    const [row] = await q(
      this.#pg.sql,
      `SELECT ${SERVER_MS} AS ms, current_setting('server_version') AS version`,
    );
    setOffset(this.#pg, row!.ms as number, started);
    this.engine = `PostgreSQL ${String(row!.version).split(" ")[0]}`;
  }

  async #schemaVersion(db: Sql): Promise<number> {
    try {
      const [row] = await q(db, "SELECT version FROM schema_version");
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
    const schema = this.#pg.url.schema;
    // The common case, read-only: already current.
    const version = await this.#schemaVersion(this.#pg.sql);
    if (version > PG_SCHEMA_VERSION) throw this.#tooNew(version);
    if (version === PG_SCHEMA_VERSION) return;
    await begin(this.#pg, async (tx) => {
      // The lock comes before CREATE SCHEMA IF NOT EXISTS, which can fail
      // with a unique violation when two sessions run it at once.
      await q(tx, "SELECT pg_advisory_xact_lock($1, $2)", [
        LOCK_CLASS,
        hash32(`${schema}:${LOCK_MIGRATE}`),
      ]);
      await tx.unsafe("SET LOCAL statement_timeout = 0");
      await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await tx.unsafe("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)");
      // Re-read under the lock: another process may have migrated meanwhile.
      const [row] = await q(tx, "SELECT version FROM schema_version");
      const current = (row?.version as number | undefined) ?? 0;
      if (current > PG_SCHEMA_VERSION) throw this.#tooNew(current);
      for (let i = current; i < PG_SCHEMA_VERSION; i++) await tx.unsafe(PG_MIGRATIONS[i]!);
      if (row) {
        await q(tx, "UPDATE schema_version SET version = $1", [PG_SCHEMA_VERSION]);
      } else {
        await q(tx, "INSERT INTO schema_version (version) VALUES ($1)", [PG_SCHEMA_VERSION]);
      }
    });
  }

  now(): number {
    return localNow() + this.#pg.offset;
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
        Promise.allSettled([...this.#pg.inflight]),
        new Promise((resolve) => timer = setTimeout(resolve, CALL_TIMEOUT_MS)),
      ]);
      clearTimeout(timer);
      // Every call has settled: nothing is left to wait for.
      await this.#pg.sql.end({ timeout: 0 }).catch(() => {});
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** See {@linkcode watchChanges} in `listener.ts`: one LISTEN connection per kind, shared. */
  watchChanges(onChange: () => void, options: WatchOptions = {}): { close(): void } {
    if (this.#closing) return { close() {} };
    return watchChanges(this.#pg, this.#listeners, onChange, options);
  }

  jobInsertMany(params: Params<"jobInsertMany">) {
    return jobs.jobInsertMany(this.#pg, params);
  }

  jobGet(params: Params<"jobGet">) {
    return jobs.jobGet(this.#pg, params);
  }

  jobGetWithRuns(params: Params<"jobGetWithRuns">) {
    return jobs.jobGetWithRuns(this.#pg, params);
  }

  jobGetMany(params: Params<"jobGetMany">) {
    return jobs.jobGetMany(this.#pg, params);
  }

  jobList(params: Params<"jobList">) {
    return jobs.jobList(this.#pg, params);
  }

  jobCountByState(): Promise<Record<JobState, number>> {
    return jobs.jobCountByState(this.#pg);
  }

  jobRetry(params: Params<"jobRetry">) {
    return jobs.jobRetry(this.#pg, params);
  }

  jobRetryAllDead(params: Params<"jobRetryAllDead">) {
    return jobs.jobRetryAllDead(this.#pg, params);
  }

  jobCancel(params: Params<"jobCancel">) {
    return jobs.jobCancel(this.#pg, params);
  }

  jobRunNow(params: Params<"jobRunNow">) {
    return jobs.jobRunNow(this.#pg, params);
  }

  jobHold(params: Params<"jobHold">) {
    return controls.jobHold(this.#pg, params);
  }

  jobRelease(params: Params<"jobRelease">) {
    return controls.jobRelease(this.#pg, params);
  }

  jobEdit(params: Params<"jobEdit">) {
    return controls.jobEdit(this.#pg, params);
  }

  jobDelete(params: Params<"jobDelete">) {
    return controls.jobDelete(this.#pg, params);
  }

  jobBulkCount(params: Params<"jobBulkCount">) {
    return controls.jobBulkCount(this.#pg, params);
  }

  jobBulkStep(params: Params<"jobBulkStep">) {
    return controls.jobBulkStep(this.#pg, params);
  }

  jobDeleteDead(params: Params<"jobDeleteDead">) {
    return jobs.jobDeleteDead(this.#pg, params);
  }

  jobPrune(params: Params<"jobPrune">) {
    return jobs.jobPrune(this.#pg, { ...params, now: params.now ?? this.now() });
  }

  jobClaim(params: Params<"jobClaim">) {
    return claim.jobClaim(this.#pg, params);
  }

  jobNextDueAt(params: Params<"jobNextDueAt">) {
    return claim.jobNextDueAt(this.#pg, { queues: params.queues, now: params.now ?? this.now() });
  }

  jobExpire(params: Params<"jobExpire">) {
    return flow.jobExpire(this.#pg, params);
  }

  jobNextExpiryAt(): Promise<number | null> {
    return flow.jobNextExpiryAt(this.#pg);
  }

  jobNextRetryAt(): Promise<number | null> {
    return claim.jobNextRetryAt(this.#pg);
  }

  jobListStranded(params: Params<"jobListStranded">) {
    return claim.jobListStranded(this.#pg, params);
  }

  runStartMany(params: Params<"runStartMany">) {
    return runs.runStartMany(this.#pg, params);
  }

  runOutputUpdateMany(params: Params<"runOutputUpdateMany">) {
    return runs.runOutputUpdateMany(this.#pg, params);
  }

  runFinishMany(params: Params<"runFinishMany">) {
    return runs.runFinishMany(this.#pg, params);
  }

  runRecordMany(params: Params<"runRecordMany">) {
    return runs.runRecordMany(this.#pg, params);
  }

  runOutputGet(params: Params<"runOutputGet">) {
    return runs.runOutputGet(this.#pg, params);
  }

  runFinishedCounts(params: Params<"runFinishedCounts">) {
    return runs.runFinishedCounts(this.#pg, params);
  }

  runTotals(): Promise<{ outcome: RunOutcome; count: number; duration_ms_sum: number }[]> {
    return runs.runTotals(this.#pg);
  }

  workerRegister(params: Params<"workerRegister">) {
    return workers.workerRegister(this.#pg, params);
  }

  workerHeartbeat(params: Params<"workerHeartbeat">) {
    return workers.workerHeartbeat(this.#pg, params);
  }

  workerRequestsGet(params: Params<"workerRequestsGet">) {
    return workers.workerRequestsGet(this.#pg, params);
  }

  workerRemove(params: Params<"workerRemove">) {
    return workers.workerRemove(this.#pg, params);
  }

  workerList(params: Params<"workerList">) {
    return workers.workerList(this.#pg, params);
  }

  workerListAll(): Promise<WorkerInfo[]> {
    return workers.workerListAll(this.#pg);
  }

  turnTake(params: Params<"turnTake">) {
    return workers.turnTake(this.#pg, params);
  }

  workerRequestStop(params: Params<"workerRequestStop">) {
    return workers.workerRequestStop(this.#pg, params);
  }

  scheduleInsert(params: Params<"scheduleInsert">) {
    return schedules.scheduleInsert(this.#pg, params);
  }

  scheduleGet(params: Params<"scheduleGet">) {
    return schedules.scheduleGet(this.#pg, params);
  }

  scheduleList(): Promise<Schedule[]> {
    return schedules.scheduleList(this.#pg);
  }

  scheduleDelete(params: Params<"scheduleDelete">) {
    return schedules.scheduleDelete(this.#pg, params);
  }

  scheduleSetPaused(params: Params<"scheduleSetPaused">) {
    return schedules.scheduleSetPaused(this.#pg, params);
  }

  scheduleFireMany(params: Params<"scheduleFireMany">) {
    return schedules.scheduleFireMany(this.#pg, params);
  }

  scheduleNextDueAt(): Promise<number | null> {
    return schedules.scheduleNextDueAt(this.#pg);
  }

  scheduleListDue(params: Params<"scheduleListDue">) {
    return schedules.scheduleListDue(this.#pg, params);
  }

  configGetAll(): Promise<Config> {
    return config.configGetAll(this.#pg);
  }

  configSet(params: Params<"configSet">) {
    return config.configSet(this.#pg, params);
  }

  queueHealthList(params: Params<"queueHealthList">) {
    return queues.queueHealthList(this.#pg, params);
  }

  queueList(): Promise<QueueInfo[]> {
    return queues.queueList(this.#pg, this.now());
  }

  queueSet(params: Params<"queueSet">) {
    return queues.queueSet(this.#pg, params);
  }

  queueRateList(params: Params<"queueRateList">) {
    return queues.queueRateList(this.#pg, params);
  }

  storeSize(): Promise<number> {
    return database.storeSize(this.#pg);
  }

  storeVacuum(): Promise<{ before: number; after: number }> {
    return database.storeVacuum(this.#pg);
  }

  storeBackup(params: { path: string }): Promise<{ bytes: number }> {
    return database.storeBackup(this.#pg, params);
  }

  // The event log, progress and hook results (events.ts)

  eventList(params: Params<"eventList">) {
    return events.eventList(this.#pg, params);
  }

  eventPrune(params: Params<"eventPrune">) {
    return events.eventPrune(this.#pg, params);
  }

  eventPruneCount(params: Params<"eventPruneCount">) {
    return events.eventPruneCount(this.#pg, params);
  }

  eventMarkGet(params: Params<"eventMarkGet">) {
    return events.eventMarkGet(this.#pg, params);
  }

  eventMarkSet(params: Params<"eventMarkSet">) {
    return events.eventMarkSet(this.#pg, params);
  }

  jobProgressSet(params: Params<"jobProgressSet">) {
    return events.jobProgressSet(this.#pg, params);
  }

  runHookSet(params: Params<"runHookSet">) {
    return events.runHookSet(this.#pg, params);
  }
}
