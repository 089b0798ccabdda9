/**
 * The connection every SQLite noun module takes as its first argument: the
 * one `DatabaseSync` of the store, its prepared statements (each prepared
 * once and reused), the all/get/run helpers, the write transaction that
 * tells watchers after its commit, and the clock.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import type { Row } from "../_rows.ts";
import { toStorageError } from "./errors.ts";

/** What a commit tells watchers: work may be claimable (everyone hears), or only jobs ended. */
export type WakeKind = "jobs" | "ends";
/** Which wake file a write touches, or how its result chooses one (`null`: none). */
export type Wake<T> = WakeKind | null | ((result: T) => WakeKind | null);

/** One open SQLite database and the helpers the noun modules run their SQL through. */
export class SqliteDb {
  /** The database's path, or `:memory:`. */
  readonly location: string;
  /** The driver's connection; the noun modules go through the helpers below instead. */
  readonly database: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  /** Called after each commit that watchers of `kind` must hear of (the wake files). */
  #notify: (kind: WakeKind) => void;

  constructor(location: string, database: DatabaseSync, notify: (kind: WakeKind) => void) {
    this.location = location;
    this.database = database;
    this.#notify = notify;
  }

  /** The clock. */
  now(): number {
    return Date.now();
  }

  /** The prepared statement for `sql`, prepared on first use. */
  stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.database.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Every row `sql` returns. */
  all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.stmt(sql).all(...params) as Row[];
  }

  /** The first row `sql` returns, if any. */
  get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.stmt(sql).get(...params) as Row | undefined;
  }

  /** Runs `sql`; returns how many rows it changed. */
  run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.stmt(sql).run(...params).changes);
  }

  /**
   * Runs `fn` in one write transaction; any throw rolls everything back.
   * After the commit it touches the wake file `wake` names, or the one
   * `wake(result)` chooses: `jobs` (the default) for a write that may make
   * a job claimable, `ends` for one that only ended jobs, `null` for a
   * write no watcher needs to hear of (claims, heartbeats, process details,
   * output snapshots; watchers re-read at least once a second anyway).
   */
  write<T>(fn: () => T, wake: Wake<T> = "jobs"): T {
    try {
      this.database.exec("BEGIN IMMEDIATE");
    } catch (error) {
      throw toStorageError(error, this.location);
    }
    let result: T;
    try {
      result = fn();
      this.database.exec("COMMIT");
    } catch (error) {
      if (this.database.isTransaction) this.database.exec("ROLLBACK");
      throw toStorageError(error, this.location);
    }
    const kind = typeof wake === "function" ? wake(result) : wake;
    if (kind) this.#notify(kind);
    return result;
  }

  /** Runs the reads of `fn`, turning a driver error into a StorageError. */
  read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw toStorageError(error, this.location);
    }
  }

  /** Closes the database (when still open) and forgets its statements. */
  close(): void {
    if (this.database.isOpen) this.database.close();
    this.#statements.clear();
  }
}

/** Runs `fn` now; its result or its error arrives as a promise, never as a synchronous throw. */
export function promise<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The `at` of a `SELECT min(…) AS at` read, or `null` when no row has one. */
export function earliest(db: SqliteDb, sql: string): Promise<number | null> {
  return promise(() => db.read(() => (db.get(sql)?.at as number | null | undefined) ?? null));
}
