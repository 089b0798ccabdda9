/**
 * The supervisor's copy of the settings (`config set`). Every wake-up (a
 * commit by any process) re-reads them, so an attempt that ends after a
 * change committed uses the new values (README.md, "Settings": running
 * workers see changes within a second); a timer-driven caller re-reads a
 * copy older than a second.
 */
import type { Config } from "../lib/config.ts";
import type { Storage } from "../lib/storage/storage.ts";
import { oneAtATime } from "./one_at_a_time.ts";

/** How old the copy may get before {@linkcode Settings.fresh} reads it again. */
const CONFIG_TTL_MS = 1000;

/** The settings as last read from the store. */
export class Settings {
  #store: Pick<Storage, "now" | "configGetAll">;
  #config: Config;
  #at: number;
  #closed = false;
  #refresh = oneAtATime(async () => {
    if (this.#closed) return;
    try {
      const now = this.#store.now();
      this.#config = await this.#store.configGetAll();
      this.#at = now;
    } catch {
      /* the heartbeat's read reports it */
    }
  });

  private constructor(store: Pick<Storage, "now" | "configGetAll">, config: Config, at: number) {
    this.#store = store;
    this.#config = config;
    this.#at = at;
  }

  /** Reads the settings once; throws when the store cannot answer. */
  static async load(store: Pick<Storage, "now" | "configGetAll">): Promise<Settings> {
    const now = store.now();
    return new Settings(store, await store.configGetAll(), now);
  }

  /** The last copy read, without waiting. */
  get current(): Config {
    return this.#config;
  }

  /** A read asked for by {@linkcode refresh} that has not ended yet. */
  #refreshing: Promise<void> | null = null;

  /** A commit happened: read again now (one read at a time, one more if asked meanwhile). */
  refresh(): void {
    const reading = this.#refresh();
    this.#refreshing = reading;
    void reading.finally(() => {
      if (this.#refreshing === reading) this.#refreshing = null;
    });
  }

  /**
   * The copy, read again first when older than a second (or the one a
   * refresh is reading: a wake-up refreshes, then claims, and one read
   * serves both). Throws when the store cannot answer.
   */
  async fresh(now: number): Promise<Config> {
    if (this.#refreshing) {
      await this.#refreshing;
      return this.#config;
    }
    if (now - this.#at >= CONFIG_TTL_MS) {
      this.#config = await this.#store.configGetAll();
      this.#at = now;
    }
    return this.#config;
  }

  /** No more reads. */
  close(): void {
    this.#closed = true;
  }
}
