/** What every route module is built from: the store, the clock, and who to tell after a write. */
import type { Stats } from "../../lib/stats.ts";
import type { Storage } from "../../lib/storage/storage.ts";
import type { ChangeFeed } from "../change_feed.ts";

/** The shared parts of the dashboard's routes, made once by `createApp`. */
export interface RouteContext {
  /** The store every route reads and writes through. */
  store: Storage;
  /** The clock; the store's unless a test fixes it. */
  now: () => number;
  /** The change feed behind `/api/events`. */
  changes: ChangeFeed<Stats>;
  /**
   * Called after every write: wakes the in-process workers when jobs were
   * added or retried, and pokes the change feed so open pages update at once.
   */
  changed(jobsAdded: boolean): void;
}
