/**
 * Direct SQLite access for the benchmarks: building databases fast and
 * reading results. The schema always comes from the product's own
 * `SqliteStorage`, so the benchmarks measure the schema that ships.
 */
import { DatabaseSync } from "node:sqlite";
import { SqliteStorage } from "../lib/storage/sqlite/store.ts";

/** Creates the product's schema in a new database file. */
export async function createSchema(path: string): Promise<void> {
  const store = SqliteStorage.open(path);
  await store.close();
}

/** Opens a database with the store's pragmas (WAL is set by the schema; NORMAL sync). */
export function openDb(path: string): DatabaseSync & Disposable {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("PRAGMA synchronous = NORMAL");
  return Object.assign(db, {
    [Symbol.dispose]() {
      if (db.isOpen) db.close();
    },
  });
}

/** Counts of jobs per state, as `job_counts` keeps them. */
export function jobCounts(db: DatabaseSync): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of db.prepare("SELECT state, n FROM job_counts").all()) {
    counts[r.state as string] = r.n as number;
  }
  return counts;
}

/** The job of line `i` of the benchmark's NDJSON: an id, a command, some priorities. */
export function benchJob(i: number): { id: string; command: string; priority: number } {
  return { id: `bench-${String(i).padStart(7, "0")}`, command: `echo ${i}`, priority: i % 5 };
}

/** `n` benchmark jobs as NDJSON, one object a line. */
export function benchNdjson(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(JSON.stringify(benchJob(i)));
  return lines.join("\n") + "\n";
}

/** The INSERT the store uses for a new job, with every column it writes. */
export const INSERT_JOB = `INSERT INTO jobs (id, command, state, queue, priority, max_retries,
  timeout, env, cwd, created_at, updated_at, next_run_at)
  VALUES (?, ?, 'pending', 'default', ?, NULL, NULL, NULL, NULL, ?, ?, ?)`;
