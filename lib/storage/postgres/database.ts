/** The database as a whole on PostgreSQL: its size, VACUUM, and why backup is pg_dump's. */
import { UsageError } from "../../errors.ts";
import { call, type PgDb, q } from "./connection.ts";
import { toStorageError } from "./errors.ts";

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

const SIZE = `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 AS n
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relkind = 'r'`;

/** The bytes the schema's tables take, indexes and TOAST included. */
export function storeSize(pg: PgDb): Promise<number> {
  return call(pg, async () => (await q(pg.sql, SIZE, [pg.url.schema]))[0]!.n as number);
}

/** VACUUM (ANALYZE) of every table, on a connection of its own; the size before and after. */
export async function storeVacuum(pg: PgDb): Promise<{ before: number; after: number }> {
  const before = await storeSize(pg);
  // VACUUM runs outside a transaction and may take longer than the
  // statement timeout of every other call: a connection of its own.
  try {
    const conn = await pg.sql.reserve();
    try {
      await conn.unsafe("SET statement_timeout = 0");
      await conn.unsafe(`VACUUM (ANALYZE) ${TABLES.join(", ")}`);
      await conn.unsafe("RESET statement_timeout");
    } finally {
      conn.release();
    }
  } catch (error) {
    throw toStorageError(error, pg.url);
  }
  return { before, after: await storeSize(pg) };
}

/** Always UsageError: a PostgreSQL database is backed up with pg_dump. */
export function storeBackup(pg: PgDb, _params: { path: string }): Promise<{ bytes: number }> {
  return Promise.reject(
    new UsageError(
      "backup copies a SQLite database; this one is PostgreSQL",
      `use pg_dump, e.g. pg_dump --schema=${pg.url.schema} ...`,
    ),
  );
}
