/** `queuectl worker start`: run N Web Workers in this process until stopped. */
import { UsageError } from "../lib/errors.ts";
import { parseCount, parseQueues } from "../lib/options.ts";
import { hostId } from "../lib/host_id.ts";
import { exportDbLocation, openStorage, resolveDbLocation } from "../lib/storage/open_storage.ts";
import { isPostgresUrl } from "../lib/storage/postgres/url.ts";
import { formatEvent } from "../workers/events.ts";
import { Supervisor } from "../workers/supervisor.ts";
import type { CliContext } from "./_context.ts";
import { paint } from "./_format.ts";

/** Options of `worker start`, as given on the command line. */
export interface WorkerStartOptions {
  count: string;
  queue?: readonly string[] | undefined;
  detach?: boolean | undefined;
}

/** The command line that runs this same program again (for `--detach`). */
function selfCommand(args: string[]): string[] {
  const exec = Deno.execPath();
  const isDeno = /(^|\/)deno(\.exe)?$/.test(exec);
  if (!isDeno) return [exec, ...args]; // a compiled queuectl
  return [exec, "run", "-A", new URL("../main.ts", import.meta.url).pathname, ...args];
}

/**
 * Where a detached worker writes: beside a SQLite file; for a server, under
 * `$XDG_STATE_HOME/queuectl` (`~/.local/state/queuectl`), never beside a URL.
 */
function detachLogPath(db: string): string {
  if (!isPostgresUrl(db)) return `${db}.worker.log`;
  const state = Deno.env.get("XDG_STATE_HOME") ||
    `${Deno.env.get("HOME") ?? "/tmp"}/.local/state`;
  Deno.mkdirSync(`${state}/queuectl`, { recursive: true });
  return `${state}/queuectl/worker.log`;
}

async function detach(ctx: CliContext, db: string, count: number, queues: string[] | null) {
  const log = detachLogPath(db);
  // The database goes to the child in its environment, not on its command
  // line, where `ps` would show a URL's password to every user.
  const args = ["worker", "start", "--count", String(count)];
  for (const q of queues ?? []) args.push("--queue", q);
  // sh redirects to the log and execs, so the worker owns no pipe to us and
  // lives in its own session group, past the end of this terminal.
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'log="$1"; shift; exec "$@" >>"$log" 2>&1 </dev/null',
      "sh",
      log,
      ...selfCommand(args),
    ],
    env: { QUEUECTL_DB: db },
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  // Report success only once the worker has registered.
  await using store = await openStorage(db);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const workers = await store.workerListAll();
    if (workers.some((w) => w.pid === child.pid && w.host === hostId())) {
      ctx.out(
        `started ${count} worker${
          count === 1 ? "" : "s"
        } in the background (pid ${child.pid}); log: ${log}`,
      );
      ctx.out("stop them with: queuectl worker stop");
      return;
    }
    const status = await Promise.race([
      child.status,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 50)),
    ]);
    if (status) break;
  }
  throw new UsageError(`The background worker did not start`, `see ${log}`);
}

/** Runs workers in the foreground (or detached) until a signal or `worker stop`. */
export async function workerStart(ctx: CliContext, options: WorkerStartOptions): Promise<void> {
  const count = parseCount(options.count);
  const queues = parseQueues(options.queue);
  const db = resolveDbLocation(ctx.db);
  if (options.detach) return await detach(ctx, db, count, queues);
  exportDbLocation(db);

  // Listen before starting: a signal that arrives while the supervisor
  // starts must stop it, not kill the process with jobs already claimed.
  // First signal: finish running jobs. Second (or `worker stop --force`): stop them now.
  let supervisor: Supervisor | null = null;
  let signals = 0;
  let stopped = false;
  const onSignal = async () => {
    signals++;
    if (stopped) return;
    if (!supervisor) return; // acted on once the supervisor exists
    let mode: "graceful" | "force" = signals > 1 ? "force" : "graceful";
    if (mode === "graceful") {
      try {
        if (await supervisor.stopRequested() === "force") mode = "force";
      } catch { /* the signal alone decides */ }
    }
    void supervisor.stop(mode);
  };
  const handlers: [Deno.Signal, () => void][] = [["SIGINT", onSignal], ["SIGTERM", onSignal]];
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  try {
    await using store = await openStorage(db, { connections: 3 });
    const print = (line: string) => ctx.out(line);
    supervisor = await Supervisor.start({
      store,
      count,
      queues,
      onEvent: (event) => {
        const line = formatEvent(event);
        if (event.type === "supervisor:error") ctx.err(paint(ctx.color, 31, line));
        else if (event.type === "job:end" && event.state === "dead") {
          print(paint(ctx.color, 31, line));
        } else if (event.type === "job:end" && event.state === "completed") {
          print(paint(ctx.color, 32, line));
        } else print(line);
      },
    });
    if (signals > 0) void supervisor.stop(signals > 1 ? "force" : "graceful");
    await supervisor.done;
  } finally {
    // The listeners stay until the process exits: `worker stop` asks
    // through the database and then signals, and a worker that heard the
    // request first may be exiting when the signal lands; without a
    // listener that signal would kill it (exit 143) instead of being moot.
    // (They do not keep the process alive.)
    stopped = true;
  }
}
