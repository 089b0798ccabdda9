/**
 * The store a scenario runs on: SQLite (a file in a temporary folder, the
 * default) or PostgreSQL (a fresh schema on the benchmark's server, see
 * `bench/_postgres.ts`). The scenarios reach their database only through
 * {@linkcode BenchDb}, so the same scenario code measures both stores.
 */
import { createSchema, jobCounts, openDb } from "./_db.ts";
import { tempDir } from "./_process.ts";

/** One fresh database of one scenario. */
export interface BenchDb extends AsyncDisposable {
  /** What `QUEUECTL_DB` is set to: a file path or a `postgres://…?schema=…` URL. */
  location: string;
  /** The SQLite file, or `null` on PostgreSQL. */
  path: string | null;
  /** Creates the product's schema through the product's own store. */
  createSchema(): Promise<void>;
  /** Jobs per state, as `status` counts them. */
  counts(): Promise<Record<string, number>>;
  /** Runs a query written the same on both engines (no parameters); numbers come as numbers. */
  all(sql: string): Promise<Record<string, unknown>[]>;
}

/** Where a scenario's databases come from. */
export interface StoreProvider {
  kind: "sqlite" | "postgres";
  /** e.g. `SQLite` or `PostgreSQL 15.18`. */
  label: string;
  /** A new, empty database for scenario `key` (e.g. `drain`); removed when disposed. */
  fresh(key: string): Promise<BenchDb>;
  /**
   * CPU used so far (clock ticks) by a database server on this machine that
   * is not this process's child, so it is not counted as other load; absent
   * when there is none or it cannot be read.
   */
  serverTicks?(): number;
}

/** SQLite: a `queue.db` in a new temporary folder, read with `node:sqlite`. */
export const sqliteProvider: StoreProvider = {
  kind: "sqlite",
  label: "SQLite",
  async fresh(): Promise<BenchDb> {
    const dir = await tempDir();
    const path = `${dir.path}/queue.db`;
    let conn: ReturnType<typeof openDb> | null = null;
    const open = () => {
      // Opening a missing file would create it: only once the schema exists.
      Deno.statSync(path);
      return conn ??= openDb(path);
    };
    return {
      location: path,
      path,
      createSchema: () => createSchema(path),
      counts: () => Promise.resolve(jobCounts(open())),
      all: (sql) => Promise.resolve(open().prepare(sql).all() as Record<string, unknown>[]),
      async [Symbol.asyncDispose]() {
        conn?.[Symbol.dispose]();
        await dir[Symbol.asyncDispose]();
      },
    };
  },
};
