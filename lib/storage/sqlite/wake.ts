/**
 * The wake files beside a SQLite database, and `watchChanges` on them: how
 * a commit in one process wakes the workers and waiters of every other.
 * `SqliteDb.write()` calls {@linkcode WakeFiles.touch} after each commit
 * that watchers must hear of.
 */
import type { WatchOptions } from "../storage.ts";
import type { WakeKind } from "./connection.ts";

/** The wake files of one store, and the file watches its callers share. */
export class WakeFiles {
  /** Files beside the database that commits touch, for {@linkcode watchChanges}. */
  #wakePaths: Record<WakeKind, string> | null;
  #wakeFiles = new Map<WakeKind, Deno.FsFile>();
  /** Per file, the one watch shared by every {@linkcode watchChanges} caller, and their callbacks. */
  #watches = new Map<WakeKind, { watcher: Deno.FsWatcher; listeners: Set<() => void> }>();
  #wakeByte = new Uint8Array(1);

  /** The wake files of the database at `location` (none for `:memory:`). */
  constructor(location: string) {
    this.#wakePaths = location === ":memory:"
      ? null
      : { jobs: `${location}.wake`, ends: `${location}.ends` };
  }

  /**
   * Tells watchers of `kind` that a commit happened: one byte rewritten in
   * place through a kept descriptor (no truncation, which makes ext4 flush
   * on close; just an inotify modify event).
   */
  touch(kind: WakeKind): void {
    if (this.#wakePaths === null) return;
    try {
      let file = this.#wakeFiles.get(kind);
      if (!file) {
        file = Deno.openSync(this.#wakePaths[kind], { write: true, create: true });
        this.#wakeFiles.set(kind, file);
      }
      this.#wakeByte[0] = (this.#wakeByte[0]! + 1) & 0xff;
      file.seekSync(0, Deno.SeekMode.Start);
      file.writeSync(this.#wakeByte);
    } catch {
      // Only a hint for watchers; they poll slowly as well.
    }
  }

  /**
   * Watches the wake files, never the database's own files: the file
   * watcher opens and closes the files it reports on, and closing any
   * descriptor of a SQLite file drops this process's POSIX locks on it
   * (which lets another process delete the WAL under us). Every write that
   * may make a job claimable touches `<db>.wake`; a finish that only ends
   * jobs touches `<db>.ends`, which only `jobEnds` watches hear, so a
   * drain does not wake idle workers (nor its own worker) once a job. One
   * file watch per file serves every caller of this store: it opens, stats
   * and resolves the file once per event and watch.
   */
  watchChanges(onChange: () => void, options: WatchOptions = {}): { close(): void } {
    const kinds: WakeKind[] = options.jobEnds ? ["jobs", "ends"] : ["jobs"];
    const listener = () => onChange(); // one entry per call, even for the same function
    const joined = kinds.filter((kind) => this.#listen(kind, listener));
    return {
      close: () => {
        for (const kind of joined) this.#unlisten(kind, listener);
      },
    };
  }

  /** Adds `listener` to the watch of `kind`, starting it; false where there can be none. */
  #listen(kind: WakeKind, listener: () => void): boolean {
    if (this.#wakePaths === null) return false; // no watch here: callers poll slowly as well
    let watch = this.#watches.get(kind);
    if (!watch) {
      const path = this.#wakePaths[kind];
      let watcher: Deno.FsWatcher;
      try {
        Deno.writeFileSync(path, this.#wakeByte, { create: true, append: true });
        watcher = Deno.watchFs(path, { recursive: false });
      } catch {
        return false;
      }
      const started = { watcher, listeners: new Set<() => void>() };
      watch = started;
      this.#watches.set(kind, started);
      let queued = false;
      (async () => {
        try {
          for await (const event of watcher) {
            // A writer closing the file (at the end of each CLI command) says nothing new.
            if (queued || event.kind === "access") continue;
            queued = true;
            queueMicrotask(() => {
              queued = false;
              for (const callback of [...started.listeners]) callback();
            });
          }
        } catch {
          // closed
        }
      })();
    }
    watch.listeners.add(listener);
    return true;
  }

  #unlisten(kind: WakeKind, listener: () => void): void {
    const watch = this.#watches.get(kind);
    if (!watch?.listeners.delete(listener) || watch.listeners.size > 0) return;
    this.#watches.delete(kind);
    try {
      watch.watcher.close();
    } catch { /* already closed */ }
  }

  /** Stops every watch and closes the kept wake files. */
  close(): void {
    for (const { watcher } of this.#watches.values()) {
      try {
        watcher.close();
      } catch { /* already closed */ }
    }
    this.#watches.clear();
    for (const file of this.#wakeFiles.values()) file.close();
    this.#wakeFiles.clear();
  }
}
