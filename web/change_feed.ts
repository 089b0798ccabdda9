/**
 * Change detection for the live dashboard. Any process may change the
 * database (a worker in another terminal, `queuectl enqueue`), so while at
 * least one browser listens the feed reads a small snapshot (counts,
 * workers, throughput, the newest jobs) and tells subscribers when its
 * fingerprint differs from the last one. It reads when the store's change
 * watch fires (any process's commit), when this process pokes it, and every
 * `intervalMs` regardless (some changes come from the clock alone: a worker
 * whose heartbeat went stale, the throughput window moving on). Reads are
 * at least `minGapMs` apart, so a busy queue costs a bounded few reads a
 * second; one read serves every subscriber; nothing runs while nobody listens.
 */

import { errorMessage } from "../lib/errors.ts";

/** A snapshot and the fingerprint that tells whether it changed. */
export interface Snapshot<T> {
  value: T;
  key: string;
}

/** What {@linkcode Subscription.next} yields: a new value, a quiet interval, or the end. */
export type FeedResult<T> = { type: "change"; value: T } | { type: "idle" } | { type: "closed" };

/** Options of a {@linkcode ChangeFeed}. */
export interface ChangeFeedOptions {
  /** Longest time between reads while subscribed (default 1000 ms). */
  intervalMs?: number;
  /** Shortest time between the end of a read and the start of the next (default 100 ms). */
  minGapMs?: number;
  /** Starts a watch that calls back on outside changes (e.g. `store.watchChanges`). */
  watch?: (onChange: () => void) => { close(): void };
}

/** One listener's view of the feed: the latest change not yet taken (older ones are skipped). */
export class Subscription<T> {
  #feed: ChangeFeed<T>;
  #pending: { value: T } | undefined;
  #wake: (() => void) | undefined;
  #closed = false;

  /** Made by {@linkcode ChangeFeed.subscribe}. */
  constructor(feed: ChangeFeed<T>) {
    this.#feed = feed;
  }

  /** Hands a value to this subscriber, replacing one not yet taken (called by the feed). */
  push(value: T): void {
    this.#pending = { value };
    this.#wake?.();
  }

  /** Waits up to `idleMs` for the next change; "idle" lets the caller send a keep-alive. */
  async next(idleMs: number): Promise<FeedResult<T>> {
    if (!this.#pending && !this.#closed) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, idleMs);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
    if (this.#closed) return { type: "closed" };
    const pending = this.#pending;
    if (!pending) return { type: "idle" };
    this.#pending = undefined;
    return { type: "change", value: pending.value };
  }

  /** Stops listening; a waiting {@linkcode next} returns "closed". */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#feed.unsubscribe(this);
    this.#wake?.();
  }

  /** Whether {@linkcode close} was called (or the feed closed). */
  get closed(): boolean {
    return this.#closed;
  }
}

/** Reads `read` while subscribed and pushes each changed snapshot to every subscriber. */
export class ChangeFeed<T> {
  #read: () => Promise<Snapshot<T>>;
  #intervalMs: number;
  #minGapMs: number;
  #startWatch: ChangeFeedOptions["watch"];
  #watch: { close(): void } | undefined;
  #subscribers = new Set<Subscription<T>>();
  /** Subscribers that still need a first value, changed or not. */
  #fresh = new Set<Subscription<T>>();
  #lastKey: string | undefined;
  #lastReadEnd = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(read: () => Promise<Snapshot<T>>, options: ChangeFeedOptions = {}) {
    this.#read = read;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#minGapMs = options.minGapMs ?? 100;
    this.#startWatch = options.watch;
  }

  /** Starts listening; the first result is the current snapshot. */
  subscribe(): Subscription<T> {
    const subscription = new Subscription(this);
    if (this.#closed) {
      subscription.close();
      return subscription;
    }
    this.#subscribers.add(subscription);
    this.#fresh.add(subscription);
    this.#watch ??= this.#startWatch?.(() => this.poke());
    if (this.#running) this.#again = true;
    else this.#schedule(0);
    return subscription;
  }

  /** Removes a subscriber (called by {@linkcode Subscription.close}). */
  unsubscribe(subscription: Subscription<T>): void {
    this.#subscribers.delete(subscription);
    this.#fresh.delete(subscription);
    if (this.#subscribers.size === 0) this.#idle();
  }

  /** Something changed: read soon (after the minimum gap) instead of at the next tick. */
  poke(): void {
    if (this.#subscribers.size === 0) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#schedule(Math.max(0, this.#lastReadEnd + this.#minGapMs - Date.now()));
  }

  /** How many listen now. */
  get size(): number {
    return this.#subscribers.size;
  }

  /** Ends every subscription and stops reading; resolves when a read under way is done. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const subscription of [...this.#subscribers]) subscription.close();
    this.#idle();
    await this.#running;
  }

  #idle(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#watch?.close();
    this.#watch = undefined;
    this.#lastKey = undefined;
  }

  /** Runs a read in `delayMs`, unless one is already due sooner. */
  #schedule(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#running = this.#tick().finally(() => {
        this.#running = undefined;
        this.#lastReadEnd = Date.now();
        if (this.#closed || this.#subscribers.size === 0) return;
        if (this.#again) {
          this.#again = false;
          this.#schedule(this.#fresh.size > 0 ? 0 : this.#minGapMs);
        } else {
          this.#schedule(this.#intervalMs);
        }
      });
    }, delayMs);
  }

  async #tick(): Promise<void> {
    let snapshot: Snapshot<T>;
    try {
      snapshot = await this.#read();
    } catch (error) {
      // A locked or busy database: try again at the next tick rather than end the streams.
      console.error(
        `dashboard: cannot read changes: ${errorMessage(error)}`,
      );
      return;
    }
    const changed = this.#lastKey !== snapshot.key;
    this.#lastKey = snapshot.key;
    const fresh = this.#fresh;
    this.#fresh = new Set();
    for (const subscription of this.#subscribers) {
      if (changed || fresh.has(subscription)) subscription.push(snapshot.value);
    }
  }
}
