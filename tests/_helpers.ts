/** Test fixtures shared by every suite: temp folders, the real CLI, polling with deadlines. */

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Every field a job has in `--json` output (SPEC section 3), sorted. */
export const JOB_FIELDS = [
  "id",
  "command",
  "state",
  "queue",
  "priority",
  "max_retries",
  "timeout",
  "env",
  "cwd",
  "attempts",
  "created_at",
  "updated_at",
  "next_run_at",
  "last_error",
  "worker_id",
].sort();

/** Every field of one attempt in `show --json`'s `runs` (SPEC section 3), sorted. */
export const RUN_FIELDS = [
  "attempt",
  "started_at",
  "finished_at",
  "duration_ms",
  "outcome",
  "exit_code",
  "signal",
  "error",
  "worker_id",
].sort();

/** A temporary folder removed when disposed: `await using dir = await tempDir()`. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "queuectl-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** A temporary database path in its own folder, removed when disposed. */
export async function withTempDb(): Promise<{ db: string; dir: string } & AsyncDisposable> {
  const dir = await tempDir();
  return {
    db: `${dir.path}/queue.db`,
    dir: dir.path,
    [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
  };
}

/** What a finished CLI process left behind. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  db?: string;
  stdin?: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** The command line that runs the real CLI. */
export function cliCommand(args: string[], options: RunCliOptions = {}): Deno.Command {
  const env: Record<string, string> = { NO_COLOR: "1", ...options.env };
  if (options.db) env.QUEUECTL_DB = options.db;
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs `queuectl <args>` to completion in a child process. */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const child = cliCommand(args, options).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs `queuectl <args> --json` and parses stdout; throws with stderr on failure. */
export async function cliJson<T = unknown>(
  args: string[],
  options: RunCliOptions = {},
): Promise<T> {
  const result = await runCli([...args, "--json"], options);
  if (result.code !== 0) {
    throw new Error(`queuectl ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}

/** Polls `condition` every `intervalMs` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${options.message ?? "a condition"}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}
