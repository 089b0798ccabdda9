/** The real `queuectl dashboard` as a child process, for the process and browser tests. */
import { cliCommand } from "../_helpers.ts";

/** The arguments before `queuectl`'s own: `run -A --quiet <main.ts>`. */
export function cliCommandArgs(): string[] {
  return ["run", "-A", "--quiet", new URL("../../main.ts", import.meta.url).pathname];
}

/** A port free on 127.0.0.1 right now (bound, read, released). */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return (listener.addr as Deno.NetAddr).port;
}

/** A running dashboard process. */
export interface DashboardProcess extends AsyncDisposable {
  /** Everything it printed on stdout so far. */
  output(): string;
  /** Everything it printed on stderr so far. */
  errors(): string;
  /** Sends `signal` and returns the exit code (SIGKILL after 15 s). */
  stop(signal?: Deno.Signal): Promise<number>;
}

async function drain(stream: ReadableStream<Uint8Array>, sink: (text: string) => void) {
  for await (const text of stream.pipeThrough(new TextDecoderStream())) sink(text);
}

/**
 * Starts `queuectl dashboard` on `port` and resolves once it printed its URL
 * (within 20 s). Its output is read all along, so it never blocks on a full
 * pipe. Disposing stops it if a test did not.
 */
export async function startDashboard(
  options: { db: string; port: number; token: string; workers?: number },
): Promise<DashboardProcess> {
  const args = [
    "dashboard",
    "--port",
    String(options.port),
    "--token",
    options.token,
    "--workers",
    String(options.workers ?? 0),
  ];
  const child = cliCommand(args, { db: options.db }).spawn();
  let out = "";
  let err = "";
  const reading = Promise.all([
    drain(child.stdout, (t) => out += t),
    drain(child.stderr, (t) => err += t),
  ]);
  let code: number | undefined;
  const status = child.status.then((s) => code = s.code);

  const deadline = Date.now() + 20_000;
  while (!out.includes("press Ctrl-C to stop")) {
    if (code !== undefined || Date.now() > deadline) {
      if (code === undefined) child.kill("SIGKILL");
      await status;
      await reading;
      throw new Error(`the dashboard did not start (exit ${code}): ${err}${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }

  const stop = async (signal: Deno.Signal = "SIGTERM"): Promise<number> => {
    if (code === undefined) {
      child.kill(signal);
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 15_000);
      await status;
      clearTimeout(timer);
    }
    await reading;
    return code!;
  };
  return {
    output: () => out,
    errors: () => err,
    stop,
    async [Symbol.asyncDispose]() {
      await stop("SIGTERM");
    },
  };
}
