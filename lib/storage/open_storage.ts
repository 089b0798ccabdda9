/** Picks the storage implementation from the `--db` value and opens it. */
import { errorMessage, StorageError, UsageError } from "../errors.ts";
import { isPostgresUrl } from "./postgres/url.ts";
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

/**
 * Puts `location` in this process's `QUEUECTL_DB` (a file path made
 * absolute), so the jobs its workers start inherit it and `queuectl
 * progress` from inside a job finds its database (README "Progress").
 */
export function exportDbLocation(location: string): void {
  const isFile = location !== ":memory:" && !/^postgres(ql)?:\/\//.test(location);
  const absolute = isFile && !location.startsWith("/") ? `${Deno.cwd()}/${location}` : location;
  Deno.env.set("QUEUECTL_DB", absolute);
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
 * Imports a store module by a run-time specifier: Deno reads the whole graph
 * of a literal `import()` (and of a static import) at start-up, so each
 * store's modules, and PostgreSQL's driver, load only when that store is
 * opened: `--version` loads neither, a URL never loads SQLite's (DESIGN.md,
 * "Performance"). `deno task compile` includes `lib/storage` for this.
 */
function importStore<M>(path: string): Promise<M> {
  return import(new URL(path, import.meta.url).href);
}

/** A store being opened ahead of its command, see {@linkcode prefetchStorage}. */
let prefetched: { location: string; store: Promise<Storage> } | null = null;

/**
 * Starts opening the PostgreSQL store at `location` now, so that importing
 * the driver and connecting overlap the rest of start-up; the command's own
 * {@linkcode openStorage} with the same location (and default options)
 * then takes it. Does nothing for a SQLite file, which opens in well under a
 * millisecond and must not be created by a command that fails first. A
 * failure is reported to the command that takes the store, or to none.
 */
export function prefetchStorage(location: string): void {
  if (!isPostgresUrl(location) || prefetched) return;
  const store = openStorage(location);
  store.catch(() => {});
  prefetched = { location, store };
}

/**
 * Opens the store at `location`: a PostgreSQL URL, or a SQLite file whose
 * folder is created when missing.
 */
export async function openStorage(
  location: string,
  options: OpenStorageOptions = {},
): Promise<Storage> {
  if (prefetched?.location === location && (options.connections ?? 1) === 1) {
    const { store } = prefetched;
    prefetched = null;
    return await store;
  }
  if (isPostgresUrl(location)) {
    const module = await importStore<typeof import("./postgres/store.ts")>("./postgres/store.ts");
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
  const module = await importStore<typeof import("./sqlite/store.ts")>("./sqlite/store.ts");
  return module.SqliteStorage.open(location);
}
