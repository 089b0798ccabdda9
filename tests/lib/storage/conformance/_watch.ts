/**
 * Counting a store's change callbacks. The only waits in the suite are here:
 * for another connection's change to reach a watcher, polled with a deadline,
 * and bounded windows in which nothing may happen.
 */
import { defaultConfig } from "../../../../lib/config.ts";
import type { Storage, WatchOptions } from "../../../../lib/storage/storage.ts";
import { waitFor } from "../../../_helpers.ts";

/** How long a watcher must stay silent to count as settled. */
const SETTLE_MS = 100;
/** The longest a committed write may take to reach a watcher. */
export const WAKE_DEADLINE_MS = 5000;
/** How long each quiet write gets to (wrongly) wake a watcher. */
export const QUIET_WINDOW_MS = 300;

/** Resolves after `ms` milliseconds. */
export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A watch on one store that counts its calls. */
export interface ChangeCounter extends Disposable {
  readonly calls: number;
  close(): void;
}

function countChanges(store: Storage, options?: WatchOptions): ChangeCounter {
  let calls = 0;
  const watch = store.watchChanges(() => calls++, options);
  return {
    get calls() {
      return calls;
    },
    close: () => watch.close(),
    [Symbol.dispose]: () => watch.close(),
  };
}

/**
 * Waits until `counter` has not moved for `quietMs`, and returns its count.
 * A store may call back more than once for one write, or once right after
 * subscribing (PostgreSQL re-reads on every LISTEN).
 */
export async function settle(counter: ChangeCounter, quietMs = SETTLE_MS): Promise<number> {
  const deadline = Date.now() + WAKE_DEADLINE_MS;
  let last = counter.calls;
  let quietSince = Date.now();
  for (;;) {
    await delay(10);
    if (counter.calls !== last) {
      last = counter.calls;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) {
      return last;
    }
    if (Date.now() > deadline) throw new Error("The watcher never settled: it keeps calling back");
  }
}

/** Waits until `counter` moves past `baseline`, then until it settles; returns the new count. */
export async function awaitWake(
  counter: ChangeCounter,
  baseline: number,
  what: string,
): Promise<number> {
  await waitFor(() => counter.calls > baseline, {
    timeoutMs: WAKE_DEADLINE_MS,
    intervalMs: 10,
    message: `the watcher to hear ${what}`,
  });
  return await settle(counter);
}

/**
 * Starts a watch on `store` and returns it once it is live and quiet: a
 * write committed by `other` reached it, then nothing more for a moment.
 */
export async function liveWatch(
  store: Storage,
  other: Storage,
  options?: WatchOptions,
): Promise<ChangeCounter> {
  const counter = countChanges(store, options);
  try {
    await other.configSet({ key: "max_retries", value: defaultConfig().max_retries });
    await awaitWake(counter, 0, "a first write (configSet) by another connection");
    return counter;
  } catch (error) {
    counter.close();
    throw error;
  }
}
