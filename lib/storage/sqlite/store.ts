/**
 * The SQLite store on Deno's built-in `node:sqlite`. All SQLite SQL lives
 * in this folder, one module per noun (`jobs.ts`, `claim.ts`, `runs.ts` …);
 * this class opens, migrates and closes the database and hands each
 * `Storage` method to its module. One connection per process; WAL mode so
 * readers never block the writer; every write is one `BEGIN IMMEDIATE`
 * transaction, so the busy timeout covers lock waits and nothing is ever
 * half done.
 */
import { DatabaseSync } from "node:sqlite";
import { StorageError } from "../../errors.ts";
import type { Params, Storage, WatchOptions } from "../storage.ts";
import * as claim from "./claim.ts";
import * as config from "./config.ts";
import { SqliteDb } from "./connection.ts";
import * as database from "./database.ts";
import * as events from "./events.ts";
import * as flow from "./flow.ts";
import { BUSY_TIMEOUT_MS, isLocked, toStorageError } from "./errors.ts";
import * as controls from "./controls.ts";
import * as jobs from "./jobs.ts";
import * as queues from "./queues.ts";
import * as runs from "./runs.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";
import * as schedules from "./schedules.ts";
import { WakeFiles } from "./wake.ts";
import * as workers from "./workers.ts";

/**
 * The SQLite implementation of {@linkcode Storage}.
 *
 * The hot queries name their partial index (`INDEXED BY`): without
 * statistics the planner prefers `jobs_state_created` and then sorts every
 * waiting job, which is fine on ten jobs and ruinous on a million.
 */
export class SqliteStorage implements Storage {
  readonly location: string;
  #db: SqliteDb;
  #wake: WakeFiles;
  #engine: string | undefined;

  private constructor(location: string, db: DatabaseSync) {
    this.location = location;
    const wake = new WakeFiles(location);
    this.#wake = wake;
    this.#db = new SqliteDb(location, db, (kind) => wake.touch(kind));
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
    const db = this.#db.database;
    const version = db.prepare("PRAGMA user_version").get()!.user_version as number;
    if (version > SCHEMA_VERSION) {
      throw new StorageError(
        `Database "${this.location}" was written by a newer queuectl (schema ${version}, this one knows ${SCHEMA_VERSION})`,
        "upgrade queuectl",
      );
    }
    this.#useWal();
    if (version === SCHEMA_VERSION) return;
    this.#db.write(() => {
      // Re-read inside the lock: another process may have migrated meanwhile.
      const current = db.prepare("PRAGMA user_version").get()!.user_version as number;
      for (let i = current; i < SCHEMA_VERSION; i++) db.exec(MIGRATIONS[i]!);
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
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
    const db = this.#db.database;
    const deadline = Date.now() + BUSY_TIMEOUT_MS;
    for (let pauseMs = 1;; pauseMs = Math.min(pauseMs * 2, 50)) {
      try {
        if (db.prepare("PRAGMA journal_mode").get()!.journal_mode === "wal") return;
        db.exec("PRAGMA journal_mode = WAL");
        return;
      } catch (error) {
        if (!isLocked(error) || Date.now() > deadline) throw error;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseMs);
      }
    }
  }

  now(): number {
    return this.#db.now();
  }

  get engine(): string {
    // Read when first asked: most commands never show it.
    this.#engine ??= database.storeEngine(this.#db);
    return this.#engine;
  }

  close(): Promise<void> {
    this.#wake.close();
    this.#db.close();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  watchChanges(onChange: () => void, options: WatchOptions = {}): { close(): void } {
    return this.#wake.watchChanges(onChange, options);
  }

  // Jobs (jobs.ts; with dependencies or keys, flow.ts)

  jobInsertMany(params: Params<"jobInsertMany">) {
    return jobs.jobInsertMany(this.#db, params);
  }

  jobGet(params: Params<"jobGet">) {
    return jobs.jobGet(this.#db, params);
  }

  jobGetWithRuns(params: Params<"jobGetWithRuns">) {
    return jobs.jobGetWithRuns(this.#db, params);
  }

  jobGetMany(params: Params<"jobGetMany">) {
    return jobs.jobGetMany(this.#db, params);
  }

  jobList(params: Params<"jobList">) {
    return jobs.jobList(this.#db, params);
  }

  jobCountByState() {
    return jobs.jobCountByState(this.#db);
  }

  jobRetry(params: Params<"jobRetry">) {
    return jobs.jobRetry(this.#db, params);
  }

  jobRetryAllDead(params: Params<"jobRetryAllDead">) {
    return jobs.jobRetryAllDead(this.#db, params);
  }

  jobCancel(params: Params<"jobCancel">) {
    return jobs.jobCancel(this.#db, params);
  }

  jobRunNow(params: Params<"jobRunNow">) {
    return jobs.jobRunNow(this.#db, params);
  }

  jobHold(params: Params<"jobHold">) {
    return controls.jobHold(this.#db, params);
  }

  jobRelease(params: Params<"jobRelease">) {
    return controls.jobRelease(this.#db, params);
  }

  jobEdit(params: Params<"jobEdit">) {
    return controls.jobEdit(this.#db, params);
  }

  jobDelete(params: Params<"jobDelete">) {
    return controls.jobDelete(this.#db, params);
  }

  jobBulkCount(params: Params<"jobBulkCount">) {
    return controls.jobBulkCount(this.#db, params);
  }

  jobBulkStep(params: Params<"jobBulkStep">) {
    return controls.jobBulkStep(this.#db, params);
  }

  jobDeleteDead(params: Params<"jobDeleteDead">) {
    return jobs.jobDeleteDead(this.#db, params);
  }

  jobPrune(params: Params<"jobPrune">) {
    return jobs.jobPrune(this.#db, params);
  }

  // Claims (claim.ts)

  jobClaim(params: Params<"jobClaim">) {
    return claim.jobClaim(this.#db, params);
  }

  jobNextDueAt(params: Params<"jobNextDueAt">) {
    return claim.jobNextDueAt(this.#db, params);
  }

  jobExpire(params: Params<"jobExpire">) {
    return flow.jobExpire(this.#db, params);
  }

  jobNextExpiryAt() {
    return flow.jobNextExpiryAt(this.#db);
  }

  jobNextRetryAt() {
    return claim.jobNextRetryAt(this.#db);
  }

  jobListStranded(params: Params<"jobListStranded">) {
    return claim.jobListStranded(this.#db, params);
  }

  // Runs (runs.ts)

  runStartMany(params: Params<"runStartMany">) {
    return runs.runStartMany(this.#db, params);
  }

  runOutputUpdateMany(params: Params<"runOutputUpdateMany">) {
    return runs.runOutputUpdateMany(this.#db, params);
  }

  runFinishMany(params: Params<"runFinishMany">) {
    return runs.runFinishMany(this.#db, params);
  }

  runRecordMany(params: Params<"runRecordMany">) {
    return runs.runRecordMany(this.#db, params);
  }

  runOutputGet(params: Params<"runOutputGet">) {
    return runs.runOutputGet(this.#db, params);
  }

  runFinishedCounts(params: Params<"runFinishedCounts">) {
    return runs.runFinishedCounts(this.#db, params);
  }

  runTotals() {
    return runs.runTotals(this.#db);
  }

  // Workers (workers.ts)

  workerRegister(params: Params<"workerRegister">) {
    return workers.workerRegister(this.#db, params);
  }

  workerHeartbeat(params: Params<"workerHeartbeat">) {
    return workers.workerHeartbeat(this.#db, params);
  }

  workerRequestsGet(params: Params<"workerRequestsGet">) {
    return workers.workerRequestsGet(this.#db, params);
  }

  workerRemove(params: Params<"workerRemove">) {
    return workers.workerRemove(this.#db, params);
  }

  workerList(params: Params<"workerList">) {
    return workers.workerList(this.#db, params);
  }

  workerListAll() {
    return workers.workerListAll(this.#db);
  }

  turnTake(params: Params<"turnTake">) {
    return workers.turnTake(this.#db, params);
  }

  workerRequestStop(params: Params<"workerRequestStop">) {
    return workers.workerRequestStop(this.#db, params);
  }

  // Schedules (schedules.ts)

  scheduleInsert(params: Params<"scheduleInsert">) {
    return schedules.scheduleInsert(this.#db, params);
  }

  scheduleGet(params: Params<"scheduleGet">) {
    return schedules.scheduleGet(this.#db, params);
  }

  scheduleList() {
    return schedules.scheduleList(this.#db);
  }

  scheduleDelete(params: Params<"scheduleDelete">) {
    return schedules.scheduleDelete(this.#db, params);
  }

  scheduleSetPaused(params: Params<"scheduleSetPaused">) {
    return schedules.scheduleSetPaused(this.#db, params);
  }

  scheduleFireMany(params: Params<"scheduleFireMany">) {
    return schedules.scheduleFireMany(this.#db, params);
  }

  scheduleNextDueAt() {
    return schedules.scheduleNextDueAt(this.#db);
  }

  scheduleListDue(params: Params<"scheduleListDue">) {
    return schedules.scheduleListDue(this.#db, params);
  }

  // Settings (config.ts) and queues (queues.ts)

  configGetAll() {
    return config.configGetAll(this.#db);
  }

  configSet(params: Params<"configSet">) {
    return config.configSet(this.#db, params);
  }

  queueList() {
    return queues.queueList(this.#db, this.now());
  }

  queueHealthList(params: Params<"queueHealthList">) {
    return queues.queueHealthList(this.#db, params);
  }

  queueSet(params: Params<"queueSet">) {
    return queues.queueSet(this.#db, params);
  }

  queueRateList(params: Params<"queueRateList">) {
    return queues.queueRateList(this.#db, params);
  }

  // The database file (database.ts)

  storeSize() {
    return database.storeSize(this.#db);
  }

  storeVacuum() {
    return database.storeVacuum(this.#db);
  }

  storeBackup(params: Params<"storeBackup">) {
    return database.storeBackup(this.#db, params);
  }

  // The event log, progress and hook results (events.ts)

  eventList(params: Params<"eventList">) {
    return events.eventList(this.#db, params);
  }

  eventPrune(params: Params<"eventPrune">) {
    return events.eventPrune(this.#db, params);
  }

  eventPruneCount(params: Params<"eventPruneCount">) {
    return events.eventPruneCount(this.#db, params);
  }

  eventMarkGet(params: Params<"eventMarkGet">) {
    return events.eventMarkGet(this.#db, params);
  }

  eventMarkSet(params: Params<"eventMarkSet">) {
    return events.eventMarkSet(this.#db, params);
  }

  jobProgressSet(params: Params<"jobProgressSet">) {
    return events.jobProgressSet(this.#db, params);
  }

  runHookSet(params: Params<"runHookSet">) {
    return events.runHookSet(this.#db, params);
  }
}
