/**
 * Wake-ups without busy polling: a file-system watch on the database's
 * folder fires within a millisecond when any process commits (SQLite
 * appends to the `-wal` file). An event is only a hint; the supervisor
 * re-queries, and a slow timer backs the watch up.
 */
import { basename, dirname } from "node:path";

/** Calls `onChange` (coalesced) whenever the database's files change; `close()` ends it. */
export function watchDatabase(dbPath: string, onChange: () => void): { close(): void } {
  let watcher: Deno.FsWatcher;
  try {
    watcher = Deno.watchFs(dirname(dbPath), { recursive: false });
  } catch {
    return { close() {} }; // no watch support: the slow poll still works
  }
  const name = basename(dbPath);
  let queued = false;
  (async () => {
    try {
      for await (const event of watcher) {
        if (queued || !event.paths.some((p) => basename(p).startsWith(name))) continue;
        queued = true;
        queueMicrotask(() => {
          queued = false;
          onChange();
        });
      }
    } catch {
      // closed
    }
  })();
  return {
    close() {
      try {
        watcher.close();
      } catch { /* already closed */ }
    },
  };
}
