/** Picks the storage implementation from the `--db` value and opens it. */
import { errorMessage, StorageError, UsageError } from "../errors.ts";
import { isPostgresUrl } from "./postgres/url.ts";
import { SqliteStorage } from "./sqlite/store.ts";
import type { Storage } from "./storage.ts";

// Plain string helpers instead of node:path and node:fs, whose first import
// costs tens of milliseconds of start-up in Deno.
function join(...parts: string[]): string {
  return parts.join("/").replace(/\/+/g, "/");
}

function dirname(path: string): string {
  const cut = path.replace(/\/+$/, "").lastIndexOf("/");
  return cut < 0 ? "." : cut === 0 ? "/" : path.slice(0, cut);
}

/** `$XDG_DATA_HOME/queuectl/queue.db`, falling back to `~/.local/share/queuectl/queue.db`. */
export function defaultDbPath(): string {
  const xdg = Deno.env.get("XDG_DATA_HOME");
  if (xdg) return join(xdg, "queuectl", "queue.db");
  const home = Deno.env.get("HOME");
  if (!home) {
    throw new UsageError("Cannot find a place for the database: HOME is not set", "pass --db");
  }
  return join(home, ".local", "share", "queuectl", "queue.db");
}

/** The database location in force: `--db`, then `QUEUECTL_DB`, then the default. */
export function resolveDbLocation(flag: string | undefined): string {
  return flag || Deno.env.get("QUEUECTL_DB") || defaultDbPath();
}

/** How a process will use its store. */
export interface OpenStorageOptions {
  /**
   * Connections a networked store may hold at once for queries (default 1:
   * a CLI command). Worker processes and dashboards pass 3; a watch
   * ({@linkcode Storage.watchChanges}) holds one more.
   */
  connections?: number;
}

/**
 * Opens the store at `location`: a PostgreSQL URL, or a SQLite file whose
 * folder is created when missing. The PostgreSQL module (and its driver)
 * is imported only for a URL, by a run-time specifier: Deno reads the whole
 * graph of a literal `import()` at start-up, which would tax every command.
 */
export async function openStorage(
  location: string,
  options: OpenStorageOptions = {},
): Promise<Storage> {
  if (isPostgresUrl(location)) {
    const module: typeof import("./postgres/store.ts") = await import(
      new URL("./postgres/store.ts", import.meta.url).href
    );
    return await module.PostgresStorage.open(location, options);
  }
  if (location !== ":memory:") {
    try {
      Deno.mkdirSync(dirname(location), { recursive: true });
    } catch (error) {
      throw new StorageError(
        `Cannot create the folder of database "${location}": ${errorMessage(error)}`,
        "pass --db with a path you can write",
      );
    }
  }
  return SqliteStorage.open(location);
}
