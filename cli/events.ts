/**
 * `queuectl events [--follow] [--since SEQ] [--queue Q]... [--type T]... [--job ID]`:
 * the event log as NDJSON, oldest first (README "Events").
 */
import { parseEventTypes, parseSince } from "../lib/event.ts";
import { readEvents } from "../lib/event_reader.ts";
import { type CliContext, withStorage } from "./_context.ts";

/** Options of `events`, as given on the command line. */
export interface EventsOptions {
  follow?: boolean | undefined;
  since?: string | undefined;
  queue?: readonly string[] | undefined;
  type?: readonly string[] | undefined;
  job?: string | undefined;
}

/** Prints one JSON object a line; with `--follow` until interrupted. */
export async function events(ctx: CliContext, options: EventsOptions): Promise<void> {
  const since = options.since === undefined ? undefined : parseSince(options.since);
  const types = parseEventTypes(options.type ?? []);
  const queues = options.queue?.length ? [...options.queue] : undefined;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  if (options.follow) Deno.addSignalListener("SIGTERM", onSignal);
  try {
    await withStorage(ctx, (store) =>
      readEvents(store, {
        since,
        follow: options.follow,
        queues,
        types: types.length ? types : undefined,
        job: options.job,
        signal: stop.signal,
      }, (event) => ctx.out(JSON.stringify(event))));
  } finally {
    if (options.follow) Deno.removeSignalListener("SIGTERM", onSignal);
  }
}
