/**
 * Reading the event log from a cursor, once or following it (README
 * "Events"): shared by `queuectl events`, the dashboard's event API and
 * the webhook sender. Following sleeps on the store's change feed
 * (`Storage.watchChanges`), with a slow re-read as a backstop for a missed
 * wake-up; never a busy loop.
 */
import { ConflictError } from "./errors.ts";
import type { EventType, QueueEvent } from "./event.ts";
import type { EventListParams, EventPage, Storage } from "./storage/storage.ts";

/** Longest sleep between reads while following when no wake-up comes. */
export const FOLLOW_BACKSTOP_MS = 1000;
/** Events per read. */
export const EVENT_PAGE = 1000;

/** Which events a reader wants. */
export interface EventFilter {
  queues?: string[] | undefined;
  types?: EventType[] | undefined;
  job?: string | undefined;
}

/** The error for a cursor below the pruned mark: events after it are gone. */
export function eventsPruned(since: number, prunedThrough: number): ConflictError {
  return new ConflictError(
    `Events after seq ${since} were pruned (kept from seq ${prunedThrough + 1})`,
    "start again with --since " + prunedThrough +
      ", or keep events longer (config set keep_events)",
  );
}

/** One page after `after`; a cursor the pruner passed is a ConflictError. */
export async function readEventPage(
  store: Storage,
  after: number,
  filter: EventFilter,
  limit = EVENT_PAGE,
): Promise<EventPage> {
  const params: EventListParams = { after, limit, ...filter };
  const page = await store.eventList(params);
  if (after < page.prunedThrough) throw eventsPruned(after, page.prunedThrough);
  return page;
}

/** Options of {@linkcode readEvents}. */
export interface ReadEventsOptions extends EventFilter {
  /** Start after this seq; `undefined`: from the oldest kept (or, following, from now). */
  since?: number | undefined;
  follow?: boolean | undefined;
  /** Ends a follow. */
  signal?: AbortSignal | undefined;
}

/**
 * Calls `onEvent` for every event after the cursor, oldest first, each
 * once; with `follow`, keeps going as events commit until `signal` aborts.
 * Returns the cursor reached.
 */
export async function readEvents(
  store: Storage,
  options: ReadEventsOptions,
  onEvent: (event: QueueEvent) => void | Promise<void>,
): Promise<number> {
  const filter: EventFilter = { queues: options.queues, types: options.types, job: options.job };
  let dirty = false;
  let wake = () => {};
  // Watch before the first read, so a commit between the two is not missed.
  const watch = options.follow
    ? store.watchChanges(() => {
      dirty = true;
      wake();
    }, { jobEnds: true })
    : null;
  try {
    let after = options.since ?? 0;
    if (options.since === undefined && options.follow) {
      after = (await store.eventList({ after: 0, limit: 1, ...filter })).latest;
    }
    for (;;) {
      dirty = false;
      const page = await readEventPage(store, after, filter);
      for (const event of page.events) await onEvent(event);
      after = page.through;
      if (page.events.length === EVENT_PAGE) continue;
      if (!options.follow || options.signal?.aborted) return after;
      if (dirty) continue;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const aborted = () => wake();
      options.signal?.addEventListener("abort", aborted, { once: true });
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, FOLLOW_BACKSTOP_MS);
      });
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", aborted);
      wake = () => {};
      if (options.signal?.aborted) return after;
    }
  } finally {
    watch?.close();
  }
}
