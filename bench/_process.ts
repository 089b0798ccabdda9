/** Child processes, wall times, /proc readings and temp folders for the benchmarks. */

/** The project folder (where `main.ts` and `deno.json` are). */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** How the CLI is started: `deno run -A main.ts`, or a compiled binary. */
export interface CliRunner {
  /** Shown in the table, e.g. `deno run -A main.ts`. */
  label: string;
  /** The full argv for `queuectl <args>`. */
  argv(args: string[]): string[];
}

/** `deno run -A main.ts`, as `deno task queuectl` runs it; `flags` go before the script. */
export function denoRunner(flags: string[] = []): CliRunner {
  const main = `${ROOT}/main.ts`;
  return {
    label: ["deno run -A", ...flags, "main.ts"].join(" "),
    argv: (args) => [Deno.execPath(), "run", "-A", ...flags, main, ...args],
  };
}

/** A compiled `queuectl` binary. */
export function binaryRunner(path: string): CliRunner {
  return { label: path.replace(`${ROOT}/`, ""), argv: (args) => [path, ...args] };
}

/** What a finished process left behind, with its wall time. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, in milliseconds. */
  ms: number;
}

/** Options of {@linkcode run}. */
export interface RunOptions {
  /** Sets `QUEUECTL_DB`. */
  db?: string;
  env?: Record<string, string>;
  cwd?: string;
  stdin?: string;
}

function command(argv: string[], options: RunOptions, stdin: boolean): Deno.Command {
  const env: Record<string, string> = { NO_COLOR: "1", ...options.env };
  if (options.db) env.QUEUECTL_DB = options.db;
  return new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env,
    cwd: options.cwd ?? ROOT,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
}

const decoder = new TextDecoder();

/** Runs `argv` to completion and times it (spawn to exit, as a shell would see it). */
export async function run(argv: string[], options: RunOptions = {}): Promise<Finished> {
  const start = performance.now();
  const child = command(argv, options, options.stdin !== undefined).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const ms = performance.now() - start;
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    ms,
  };
}

/** Runs `argv` and throws, quoting its stderr, unless it exits 0. */
export async function runOk(argv: string[], options: RunOptions = {}): Promise<Finished> {
  const result = await run(argv, options);
  if (result.code !== 0) {
    const name = argv.slice(1).filter((a) => !a.startsWith("/")).slice(0, 6).join(" ");
    const detail = result.stderr.trim().split("\n")[0] ?? "";
    throw new Error(`"${name}" exited ${result.code}: ${detail}`);
  }
  return result;
}

/** Wall times of `runs` runs of `argv` after `warmup` untimed ones; each must exit 0. */
export async function wallTimes(
  argv: string[],
  runs: number,
  options: RunOptions & { warmup?: number } = {},
): Promise<number[]> {
  for (let i = 0; i < (options.warmup ?? 1); i++) await runOk(argv, options);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push((await runOk(argv, options)).ms);
  return times;
}

/** A long-running child whose stderr is kept (the last 64 KiB) and stdout discarded. */
export interface Background extends AsyncDisposable {
  child: Deno.ChildProcess;
  pid: number;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Sends `signal` and waits up to `timeoutMs` for the exit; SIGKILL after that. */
  stop(signal?: Deno.Signal, timeoutMs?: number): Promise<{ code: number; ms: number }>;
}

/** Starts `argv` in the background. */
export function spawn(argv: string[], options: RunOptions = {}): Background {
  const env: Record<string, string> = { NO_COLOR: "1", ...options.env };
  if (options.db) env.QUEUECTL_DB = options.db;
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env,
    cwd: options.cwd ?? ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const reading = (async () => {
    for await (const chunk of child.stderr) {
      text = (text + decoder.decode(chunk)).slice(-65536);
    }
  })();
  let exited: { code: number } | null = null;
  const status = child.status.then((s) => {
    exited = { code: s.code };
    return s;
  });
  const stop = async (signal: Deno.Signal = "SIGTERM", timeoutMs = 30_000) => {
    const start = performance.now();
    if (exited === null) {
      try {
        child.kill(signal);
      } catch { /* it has just exited */ }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), timeoutMs));
    let result = await Promise.race([status, late]);
    clearTimeout(timer);
    if (result === null) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      result = await status;
      await reading;
      return { code: -1, ms: performance.now() - start };
    }
    await reading;
    return { code: result.code, ms: performance.now() - start };
  };
  return {
    child,
    pid: child.pid,
    stderr: () => text,
    stop,
    async [Symbol.asyncDispose]() {
      await stop("SIGKILL", 5000);
    },
  };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` until it is truthy or `timeoutMs` passes (then throws `message`). */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: { timeoutMs: number; intervalMs?: number; message: string },
): Promise<NonNullable<T>> {
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${options.message}`);
    await sleep(options.intervalMs ?? 20);
  }
}

/** A temporary folder removed when disposed. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "queuectl-bench-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** The resident set of a process in MB (VmRSS of /proc/<pid>/status). */
export function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) / 1024;
}

/** Clock ticks per second of /proc times (USER_HZ; 100 on Linux everywhere that matters). */
const TICKS_PER_S = 100;

/** CPU seconds used so far by a process, all its threads (utime + stime of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name may hold spaces and parentheses: split after its last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** The percentile `p` (0–100) of `values`, by linear interpolation. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) throw new Error("no values");
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

/** The median of `values`. */
export function median(values: number[]): number {
  return percentile(values, 50);
}

/** The mean of `values`. */
export function mean(values: number[]): number {
  if (values.length === 0) throw new Error("no values");
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Measures `a` (the reference) and `b` in the order A B B A, or A B with
 * `once`: a drift of the machine's speed over the runs then weighs on both
 * alike, where A then B would charge all of it to B.
 */
export async function abba<T>(
  a: () => Promise<T>,
  b: () => Promise<T>,
  once: boolean,
): Promise<{ a: T[]; b: T[] }> {
  const first = await a();
  const bs = [await b()];
  if (once) return { a: [first], b: bs };
  bs.push(await b());
  return { a: [first, await a()], b: bs };
}

function cpuJiffies(): { idle: number; total: number } {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  // idle + iowait count as idle.
  return { idle: values[3]! + (values[4] ?? 0), total: values.reduce((a, b) => a + b, 0) };
}

/** The share (0–1) of all cores busy over the next `ms` milliseconds. */
export async function machineBusy(ms: number): Promise<number> {
  const a = cpuJiffies();
  await sleep(ms);
  const b = cpuJiffies();
  const total = b.total - a.total;
  return total <= 0 ? 0 : 1 - (b.idle - a.idle) / total;
}

/**
 * Waits (at most `maxMs`) until the machine is quiet: under 10% of its
 * cores busy over 300 ms. Returns the last busy share seen, so a scenario
 * measured on a busy machine can say so.
 */
export async function waitQuiet(maxMs: number): Promise<number> {
  const deadline = performance.now() + maxMs;
  for (;;) {
    const busy = await machineBusy(300);
    if (busy < 0.1 || performance.now() > deadline) return busy;
  }
}

/** A reading of the machine's CPU counters and this process's own (with reaped children). */
export interface CpuSnapshot {
  busy: number;
  total: number;
  own: number;
}

/** Reads the counters for {@linkcode otherLoad}. */
export function cpuSnapshot(): CpuSnapshot {
  const { idle, total } = cpuJiffies();
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime, stime, cutime, cstime: fields 14-17; children count once reaped.
  const own = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return { busy: total - idle, total, own };
}

/**
 * The share (0–1) of the machine's cores used by other processes between
 * two snapshots: everything busy minus this process and the children it
 * reaped (the CLI runs, the workers and their jobs).
 */
export function otherLoad(before: CpuSnapshot, after: CpuSnapshot): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  const other = (after.busy - before.busy) - (after.own - before.own);
  return Math.max(0, other / total);
}
