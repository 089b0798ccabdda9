/**
 * The expirer (README.md "Flow control"; DESIGN.md "Flow control"): cancels
 * jobs not started by their `expires_at` with `last_error` "expired", so an
 * expired job shows as cancelled (and its dependents move on) without a
 * worker having to reach it in a claim. Claims expire jobs too and never
 * start one late; this pass only makes it visible on time.
 *
 * It sleeps until the next expiry the store knows of (at most a minute, so
 * a job enqueued by another host is seen), and looks again after a commit
 * (at most every 200 ms). Every host may run it at once: the cancel is one
 * guarded statement (rows another claimer holds are skipped), so two passes
 * never cancel a job twice.
 */
import { errorMessage } from "../lib/errors.ts";
import type { Storage } from "../lib/storage/storage.ts";
import type { Maintenance } from "./maintenance.ts";
import { oneAtATime } from "./one_at_a_time.ts";

/** The longest sleep between passes. */
const MAX_SLEEP_MS = 60_000;
/** The shortest gap between passes woken by commits. */
const MIN_GAP_MS = 200;
/** Jobs per statement: one short transaction each, so claims never wait long. */
const BATCH = 500;

/** What the expirer needs. */
export interface ExpirerOptions {
  store: Storage;
  onExpired?: (ids: string[]) => void;
  onError?: (message: string) => void;
}

/** Expiry as a small service: `runOnce` is a whole pass; `start`/`stop` the loop around it. */
export class Expirer {
  #options: ExpirerOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #lastPass = 0;
  #pass = oneAtATime(async () => {
    if (this.#stopped) return;
    this.#lastPass = Date.now();
    let wait = MAX_SLEEP_MS;
    try {
      await this.runOnce(this.#options.store.now());
      const next = await this.#options.store.jobNextExpiryAt();
      if (next !== null) wait = Math.min(wait, Math.max(0, next - this.#options.store.now()) + 5);
    } catch (error) {
      this.#options.onError?.(errorMessage(error));
      wait = 1000;
    }
    this.#schedule(wait);
  });

  constructor(options: ExpirerOptions) {
    this.#options = options;
  }

  /** Cancels every job expired at `now`, a batch at a time; returns their ids. */
  async runOnce(now: number): Promise<string[]> {
    const all: string[] = [];
    for (;;) {
      const ids = await this.#options.store.jobExpire({ now, limit: BATCH });
      all.push(...ids);
      if (ids.length < BATCH || this.#stopped) break;
    }
    if (all.length > 0) this.#options.onExpired?.(all);
    return all;
  }

  start(): void {
    this.#schedule(0);
  }

  /** A commit happened: look again soon (a new job may expire earlier than the timer). */
  wake(): void {
    if (this.#stopped) return;
    this.#schedule(Math.max(0, this.#lastPass + MIN_GAP_MS - Date.now()));
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#pass(), ms);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#pass.busy) await this.#pass();
  }
}

/** The expirer as one of a supervisor's maintenance components. */
export function expiring(): Maintenance {
  let expirer: Expirer | undefined;
  return {
    name: "expirer",
    start(context) {
      expirer = new Expirer({
        store: context.store,
        onError: (message) =>
          context.emit({ type: "supervisor:error", message: `expirer: ${message}` }),
      });
      expirer.start();
    },
    wake() {
      expirer?.wake();
    },
    async stop() {
      await expirer?.stop();
    },
  };
}
