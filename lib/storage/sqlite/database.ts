/**
 * The database file as a whole: its size, `VACUUM`, a backup, and which
 * SQLite it is. The `store*` exports are the `Storage` methods of their
 * names (documented there).
 */
import { UsageError } from "../../errors.ts";
import { promise, type SqliteDb } from "./connection.ts";

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

/** The engine as `status` shows it, e.g. `SQLite 3.50.1`. */
export function storeEngine(db: SqliteDb): string {
  return `SQLite ${db.read(() => db.get("SELECT sqlite_version() AS v")?.v as string)}`;
}

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

export function storeSize(db: SqliteDb): Promise<number> {
  if (db.location === ":memory:") return Promise.resolve(0);
  return Promise.resolve(
    fileSize(db.location) + fileSize(`${db.location}-wal`),
  );
}

export async function storeVacuum(db: SqliteDb): Promise<{ before: number; after: number }> {
  const before = await storeSize(db);
  db.read(() => {
    // Outside any transaction; waits for writers up to the busy timeout.
    db.database.exec("VACUUM");
    // The rewrite went through the WAL: fold it back and shrink it.
    db.database.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  });
  return { before, after: await storeSize(db) };
}

export function storeBackup(db: SqliteDb, params: { path: string }): Promise<{ bytes: number }> {
  return promise(() => {
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
    db.read(() => db.stmt("VACUUM INTO ?").run(path));
    return { bytes: fileSize(path) };
  });
}
