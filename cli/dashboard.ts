/**
 * `queuectl dashboard`: the web dashboard and JSON API (README "Dashboard"),
 * optionally with workers in the same process. Serves until SIGINT or
 * SIGTERM, then stops: the server first, then the workers (gracefully; a
 * second signal stops their jobs now), then the store.
 */
import { UsageError } from "../lib/errors.ts";
import { MAX_COUNT } from "../lib/options.ts";
import { exportDbLocation, openStorage, resolveDbLocation } from "../lib/storage/open_storage.ts";
import type { Stats } from "../lib/stats.ts";
import { generateToken, isLoopbackHost, isWildcardHost, urlHost } from "../web/auth.ts";
import type { ChangeFeed } from "../web/change_feed.ts";
import { createApp, storeChangeFeed } from "../web/handler.ts";
import { serveDashboard } from "../web/serve.ts";
import { formatEvent } from "../workers/events.ts";
import { Supervisor } from "../workers/supervisor.ts";
import type { CliContext } from "./_context.ts";
import { paint } from "./_format.ts";

/** Options of `dashboard`, as given on the command line. */
export interface DashboardOptions {
  port: string;
  host: string;
  token?: string | undefined;
  workers: string;
}

/** Checks `--port`: an integer from 0 (any free port) to 65535. */
export function parsePort(value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n > 65535) {
    throw new UsageError(`Invalid port "${value}"`, "use an integer from 1 to 65535");
  }
  return n;
}

/** Checks `--workers`: an integer from 0 (none) to the most one process runs. */
export function parseWorkers(value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_COUNT) {
    throw new UsageError(
      `Invalid worker count "${value}"`,
      `use an integer from 0 to ${MAX_COUNT}`,
    );
  }
  return n;
}

/**
 * The token in force: `--token`, then `QUEUECTL_TOKEN`, then a new random
 * one. A non-loopback `--host` needs one given, since the printed URL then
 * travels beyond this machine's own eyes.
 */
export function resolveToken(host: string, flag: string | undefined): {
  token: string;
  generated: boolean;
} {
  const given = flag ?? Deno.env.get("QUEUECTL_TOKEN");
  if (given !== undefined) {
    if (!/^[\x21-\x7e]{1,512}$/.test(given)) {
      throw new UsageError(
        "Invalid token",
        "use 1-512 printable characters without spaces",
      );
    }
    return { token: given, generated: false };
  }
  if (!isLoopbackHost(host)) {
    throw new UsageError(
      `Refusing to serve on "${host}" without a token: adding a job runs a shell command`,
      "pass --token or set QUEUECTL_TOKEN, or keep the default --host 127.0.0.1",
    );
  }
  return { token: generateToken(), generated: true };
}

/** Waits for SIGINT or SIGTERM; `onAgain` runs on each later one. */
function waitForSignal(onAgain: () => void): { signalled: Promise<Deno.Signal>; dispose(): void } {
  let count = 0;
  let resolve!: (signal: Deno.Signal) => void;
  const signalled = new Promise<Deno.Signal>((r) => resolve = r);
  const handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const handler = () => {
      count++;
      if (count === 1) resolve(signal);
      else onAgain();
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  return {
    signalled,
    dispose: () => {
      for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    },
  };
}

/** Serves the dashboard until a signal; see the module comment. */
export async function dashboard(ctx: CliContext, options: DashboardOptions): Promise<void> {
  const port = parsePort(options.port);
  const workers = parseWorkers(options.workers);
  const host = options.host.trim();
  if (host === "") throw new UsageError('Invalid host ""', "use e.g. 127.0.0.1");
  const { token } = resolveToken(host, options.token);
  const db = resolveDbLocation(ctx.db);
  exportDbLocation(db);

  await using store = await openStorage(db, { connections: 3 });
  let supervisor: Supervisor | undefined;
  const changes: ChangeFeed<Stats> = storeChangeFeed(store);
  const server = serveDashboard({
    hostname: host,
    port,
    makeHandler: (addr) =>
      createApp({
        store,
        token,
        hostname: addr.hostname,
        port: addr.port,
        changes,
        onJobsChanged: () => supervisor?.wake(),
      }).fetch,
  });

  // The first signal stops the dashboard; a second one ends the in-process workers' jobs now.
  const signals = waitForSignal(() => void supervisor?.stop("force"));
  try {
    if (workers > 0) {
      supervisor = await Supervisor.start({
        store,
        count: workers,
        queues: null,
        role: "dashboard",
        onEvent: (event) => {
          changes.poke();
          const line = formatEvent(event);
          if (event.type === "supervisor:error") ctx.err(paint(ctx.color, 31, line));
          else if (event.type.startsWith("job:") || event.type === "supervisor:stopping") {
            ctx.out(line);
          }
        },
      });
    }
    const shown = isWildcardHost(host) ? "127.0.0.1" : urlHost(server.addr.hostname);
    const base = `http://${shown}:${server.addr.port}`;
    ctx.out(`queuectl dashboard on ${base} (database ${store.location})`);
    if (workers > 0) {
      ctx.out(`running ${workers} worker${workers === 1 ? "" : "s"} in this process`);
    }
    ctx.out(`open ${paint(ctx.color, 1, `${base}/?token=${encodeURIComponent(token)}`)}`);
    ctx.out("press Ctrl-C to stop");

    // A stop asked through the database (`worker stop` on another host) ends only the workers.
    let stopping = false;
    void supervisor?.done.then(() => {
      if (!stopping) {
        ctx.out("the workers of this process stopped; the dashboard goes on without them");
      }
    });
    const signal = await signals.signalled;
    stopping = true;
    ctx.out(`${signal}: stopping the dashboard`);
  } finally {
    // Server-sent event streams never end by themselves: close them so shutdown can finish.
    await changes.close();
    await server.shutdown();
    if (supervisor) {
      await supervisor.stop("graceful");
      await supervisor.done;
    }
    signals.dispose();
  }
}
