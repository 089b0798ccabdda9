/**
 * Webhook delivery (README "Webhooks", DESIGN.md "Webhook delivery"): the
 * final-state events (or the types of `webhook_events`) POSTed to
 * `webhook_url` in `seq` order, at least once, from a cursor kept in the
 * store (the `webhook` mark), so a worker that restarts or another host
 * that takes over goes on where delivery stopped. One delivery pass at a
 * time across hosts (the `webhooks` turn). A delivery that fails or takes
 * over 10 s is retried with backoff, the same event, until it is a day
 * old; then it is logged and skipped. With `webhook_secret` each POST has
 * `X-Queuectl-Signature: sha256=<hex HMAC-SHA256 of the body>`.
 */
import type { Config } from "../lib/config.ts";
import { errorMessage } from "../lib/errors.ts";
import { type EventType, FINISH_TYPES, type QueueEvent } from "../lib/event.ts";
import { readEventPage } from "../lib/event_reader.ts";
import type { Storage } from "../lib/storage/storage.ts";
import type { Maintenance } from "./maintenance.ts";
import { oneAtATime } from "./one_at_a_time.ts";

/** The name of the webhook cursor (an event mark) and of its turn. */
export const WEBHOOK_MARK = "webhook";
const WEBHOOK_TURN = "webhooks";
/** A delivery not answered within this fails. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** An event still failing this long after it happened is skipped. */
export const GIVE_UP_AFTER_MS = 86_400_000;
/** Pass cadence when nothing wakes the sender. */
const PASS_EVERY_MS = 1000;

/** The types a webhook receives under these settings. */
export function webhookTypes(config: Config): EventType[] {
  const listed = config.webhook_events.split(",").map((t) => t.trim()).filter(Boolean);
  return (listed.length > 0 ? listed : [...FINISH_TYPES]) as EventType[];
}

/** Wait before retry `n` (1-based) of a failed delivery: 1 s doubling, at most 5 min. */
export function retryDelayMs(n: number): number {
  return Math.min(1000 * 2 ** (n - 1), 300_000);
}

/** `sha256=<hex>` of `body` keyed by `secret` (Web Crypto). */
export async function signature(secret: string, body: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(body)));
  return `sha256=${Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** POSTs one event; throws with a one-line reason unless the receiver answered 2xx. */
export async function deliver(config: Config, event: QueueEvent): Promise<void> {
  const body = JSON.stringify(event);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "queuectl",
  };
  if (config.webhook_secret) {
    headers["x-queuectl-signature"] = await signature(config.webhook_secret, body);
  }
  const response = await fetch(config.webhook_url, {
    method: "POST",
    headers,
    body,
    signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
}

/** What the sender needs. */
export interface WebhookSenderOptions {
  store: Storage;
  /** The holder of the turn. */
  selfId: string;
  config(): Config;
  onError?: (message: string) => void;
  /** Test seam: the sleep between retries. */
  sleep?: (ms: number) => Promise<void>;
}

/** The sender: `runOnce` delivers everything it can; `start`/`stop` the loop around it. */
export class WebhookSender {
  #options: WebhookSenderOptions;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wakeSleep: (() => void) | undefined;
  #pass = oneAtATime(async () => {
    try {
      await this.runOnce();
    } catch (error) {
      this.#options.onError?.(`webhooks: ${errorMessage(error)}`);
    }
  });

  constructor(options: WebhookSenderOptions) {
    this.#options = options;
  }

  #takeTurn(): Promise<boolean> {
    const { store } = this.#options;
    return store.turnTake({
      name: WEBHOOK_TURN,
      holder: this.#options.selfId,
      now: store.now(),
      // Kept while it delivers (renewed before each try); a dead holder's passes to another host.
      ttlMs: DELIVERY_TIMEOUT_MS + 5000,
    });
  }

  #sleep(ms: number): Promise<void> {
    if (this.#options.sleep) return this.#options.sleep(ms);
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wakeSleep = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Delivers every event after the cursor, in order; returns how many were delivered. */
  async runOnce(): Promise<number> {
    const { store } = this.#options;
    let delivered = 0;
    for (;;) {
      const config = this.#options.config();
      if (!config.webhook_url || this.#stopped) return delivered;
      if (!(await this.#takeTurn())) return delivered;
      const cursor = await store.eventMarkGet({ name: WEBHOOK_MARK });
      const page = await readEventPage(store, cursor, { types: webhookTypes(config) }, 100)
        .catch(async (error) => {
          // Pruned past the cursor: what is gone cannot be sent; go on from what is kept.
          const latest = await store.eventList({ after: 0, limit: 1 });
          this.#options.onError?.(`webhooks: ${errorMessage(error)}; going on after it`);
          await store.eventMarkSet({ name: WEBHOOK_MARK, seq: latest.prunedThrough });
          throw error;
        });
      for (const event of page.events) {
        if (!(await this.#deliverWithRetries(event))) return delivered;
        delivered++;
        await store.eventMarkSet({ name: WEBHOOK_MARK, seq: event.seq });
      }
      if (page.through > cursor) {
        await store.eventMarkSet({ name: WEBHOOK_MARK, seq: page.through });
      }
      if (page.events.length < 100) return delivered;
    }
  }

  /** True once delivered (or given up on); false when the pass must stop. */
  async #deliverWithRetries(event: QueueEvent): Promise<boolean> {
    for (let n = 1;; n++) {
      const config = this.#options.config();
      if (this.#stopped || !config.webhook_url) return false;
      if (!(await this.#takeTurn())) return false;
      try {
        await deliver(config, event);
        return true;
      } catch (error) {
        const reason = errorMessage(error);
        if (this.#options.store.now() - Date.parse(event.at) > GIVE_UP_AFTER_MS) {
          this.#options.onError?.(
            `webhook: gave up on event ${event.seq} (${event.type} of job ${event.job}): ${reason}`,
          );
          return true;
        }
        this.#options.onError?.(
          `webhook: delivery of event ${event.seq} failed (${reason}); try ${n + 1} in ${
            retryDelayMs(n) / 1000
          } s`,
        );
        await this.#sleep(retryDelayMs(n));
      }
    }
  }

  /** Delivers soon (a commit happened). */
  wake(): void {
    if (!this.#stopped && this.#options.config().webhook_url) void this.#pass();
  }

  /** Runs a pass every second and on every wake-up. */
  start(): void {
    const tick = () => {
      if (this.#stopped) return;
      void this.#pass();
      this.#timer = setTimeout(tick, PASS_EVERY_MS);
    };
    tick();
  }

  /** Stops; resolves once a pass under way has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wakeSleep?.();
    if (this.#pass.busy) await this.#pass();
  }
}

/** Webhook delivery as one of a supervisor's maintenance components. */
export function webhooks(): Maintenance {
  let sender: WebhookSender | undefined;
  return {
    name: "webhooks",
    start(context) {
      sender = new WebhookSender({
        store: context.store,
        selfId: context.workerId,
        config: context.config,
        onError: (message) => context.emit({ type: "supervisor:error", message }),
      });
      sender.start();
    },
    wake() {
      sender?.wake();
    },
    async stop() {
      await sender?.stop();
    },
  };
}
