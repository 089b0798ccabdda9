/**
 * Wake-ups by LISTEN/NOTIFY: the {@linkcode Listener} (a LISTEN connection
 * of its own, checked by a canary) and {@linkcode watchChanges}, which
 * shares one listener per kind among a store's watches.
 */
import postgres from "postgres";
import type { WatchOptions } from "../storage.ts";
import { call, driverOptions, type PgDb, q, type Sql } from "./connection.ts";
import type { PostgresUrl } from "./url.ts";

/** How often a listening store checks its LISTEN connection with a notification to itself. */
const CANARY_EVERY_MS = 2000;
/** A check not heard back within this means the connection is silently lost: rebuild it. */
const CANARY_TIMEOUT_MS = 3000;

/** The LISTEN connections of a store: one for workers' wake-ups, one that also hears job ends. */
export type Listeners = Map<"jobs" | "ends", Listener>;

/**
 * The LISTEN connection of a store, managed here rather than by the
 * driver's `listen()`: that one re-listens on its own after a drop, but
 * its `unlisten()` then misses the re-registered callbacks, and ending it
 * while a reconnect is pending leaves a revived connection that keeps the
 * process alive. Here a LISTEN is retried only by our own timer, and
 * close() waits for the one under way before ending the connection.
 *
 * A connection can also die silently (a cut network, a stalled backend:
 * no error, just no notifications), so every {@linkcode CANARY_EVERY_MS}
 * the store notifies a channel only this connection listens on; a canary
 * not heard back within {@linkcode CANARY_TIMEOUT_MS} replaces the
 * connection, and the re-listen makes every watcher re-read.
 */
export class Listener {
  /** The watches' callbacks, called on every notification and every (re)listen. */
  readonly callbacks = new Set<() => void>();
  #url: PostgresUrl;
  #sql: Sql;
  #channels: string[];
  /** Private to this connection: its notifications wake nobody else. */
  readonly canaryChannel = `queuectl_canary_${crypto.randomUUID().replaceAll("-", "")}`;
  #sendCanary: (channel: string) => Promise<unknown>;
  #closed = false;
  #inflight: Promise<void> | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #canaryTimer: ReturnType<typeof setInterval>;
  /** When the unanswered canary was sent (`performance.now()`), or null. */
  #canarySentAt: number | null = null;
  #retries = 0;
  /** Whether the LISTEN is in force (a new watch is called back at once then). */
  listening = false;

  constructor(
    url: PostgresUrl,
    channels: string[],
    sendCanary: (channel: string) => Promise<unknown>,
  ) {
    this.#url = url;
    this.#channels = channels;
    this.#sendCanary = sendCanary;
    this.#sql = this.#connect();
    this.#listen();
    this.#canaryTimer = setInterval(() => void this.#checkCanary(), CANARY_EVERY_MS);
  }

  #connect(): Sql {
    const sql = postgres(this.#url.connectionUrl, {
      ...driverOptions(this.#url),
      max: 1,
      fetch_types: false,
      connection: {
        ...driverOptions(this.#url).connection,
        // Names the connection in pg_stat_activity (tests stall it on purpose).
        application_name: `queuectl-listen:${this.#url.schema}`.slice(0, 63),
      },
      onclose: () => {
        // The connection dropped (or a connect failed): listen again soon.
        if (this.#sql !== sql) return;
        this.listening = false;
        if (!this.#closed && this.#inflight === null) this.#schedule(100);
      },
      onnotify: (channel: string) => {
        if (channel === this.canaryChannel) this.#canarySentAt = null;
        else this.#wake();
      },
    } as postgres.Options<Record<string, postgres.PostgresType>>) as unknown as Sql;
    return sql;
  }

  #wake(): void {
    for (const callback of this.callbacks) callback();
  }

  #schedule(ms: number): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#listen();
    }, ms);
  }

  #listen(): void {
    if (this.#closed || this.#inflight !== null) return;
    this.#inflight = this.#sql.unsafe(
      [...this.#channels, this.canaryChannel].map((c) => `LISTEN "${c}";`).join(" "),
    )
      .then(
        () => {
          this.#retries = 0;
          this.listening = true;
          this.#canarySentAt = null;
          // Notifications may have been missed while not listening: re-read.
          this.#wake();
        },
        () => this.#schedule(Math.min(50 * 2 ** this.#retries++, 1000)),
      ).finally(() => {
        this.#inflight = null;
      });
  }

  async #checkCanary(): Promise<void> {
    if (this.#closed || !this.listening || this.callbacks.size === 0) return;
    if (this.#canarySentAt !== null) {
      if (performance.now() - this.#canarySentAt < CANARY_TIMEOUT_MS) return;
      // Silently lost: no error came, but our own notification did not either.
      this.#canarySentAt = null;
      this.listening = false;
      const old = this.#sql;
      this.#sql = this.#connect();
      void old.end({ timeout: 0 }).catch(() => {});
      this.#listen();
      return;
    }
    // Marked before sending: the canary may come back before the reply to its NOTIFY.
    const sentAt = performance.now();
    this.#canarySentAt = sentAt;
    try {
      await this.#sendCanary(this.canaryChannel);
    } catch {
      // The server itself is unreachable: the pool's reconnects handle that.
      if (this.#canarySentAt === sentAt) this.#canarySentAt = null;
    }
  }

  /** Stops listening and ends the connection (waiting for a LISTEN under way). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#canaryTimer);
    this.#timer = undefined;
    this.callbacks.clear();
    await this.#inflight;
    await this.#sql.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * LISTENs on the schema's channel on a connection of its own (one per
 * store, shared by its watches). Every (re)listen calls back too: after
 * a reconnect notifications may have been missed, so the caller re-reads.
 */
export function watchChanges(
  pg: PgDb,
  listeners: Listeners,
  onChange: () => void,
  options: WatchOptions = {},
): { close(): void } {
  // Job ends come on a channel of their own, so idle workers (which do
  // not care) are not woken by every finish on every host.
  const kind = options.jobEnds ? "ends" : "jobs";
  let listener = listeners.get(kind);
  if (!listener) {
    listener = new Listener(
      pg.url,
      kind === "ends" ? [pg.channel, pg.doneChannel] : [pg.channel],
      (channel) => call(pg, () => q(pg.sql, "SELECT pg_notify($1, 'canary')", [channel])),
    );
    listeners.set(kind, listener);
  }
  const callback = () => onChange();
  listener.callbacks.add(callback);
  // Like a (re)listen, a new watch starts with a re-read.
  if (listener.listening) {
    queueMicrotask(() => {
      if (listener.callbacks.has(callback)) callback();
    });
  }
  return {
    close: () => {
      listener.callbacks.delete(callback);
    },
  };
}
