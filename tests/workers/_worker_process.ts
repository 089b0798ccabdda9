/**
 * Fixtures for the worker suites: a `queuectl worker start` child process
 * that is always stopped and awaited, small CLI wrappers, and process
 * look-ups by a unique marker (a `sleep` with a random fractional duration).
 */
import assert from "node:assert/strict";
import type { CliContext } from "../../cli/_context.ts";
import { readStats } from "../../lib/stats.ts";
import { readWorkers } from "../../cli/worker_list.ts";
import type { JobWithRuns, RunOutput } from "../../lib/job.ts";
import { openStorage } from "../../lib/storage/open_storage.ts";
import type { Stats } from "../../lib/stats.ts";
import type { WorkerInfo } from "../../lib/storage/storage.ts";
import {
  cliCommand,
  cliJson,
  type CliResult,
  runCli,
  type RunCliOptions,
  waitFor,
  watchChild,
} from "../_helpers.ts";

/** Resolves to the promise's value, or to `undefined` once `ms` have passed (no timer left behind). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A running `queuectl worker start`; disposing it stops it and awaits it. */
export interface WorkerProcess extends AsyncDisposable {
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Everything it printed on stdout so far. */
  stdout(): string;
  /** Everything it printed on stderr so far. */
  stderr(): string;
  /** Its pid and both outputs, for failure messages. */
  log(): string;
  /** Sends a signal (ignored when it has exited). */
  kill(signal: Deno.Signal): void;
  /** Waits until stdout matches `pattern`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /**
   * Stops it whatever state it is in: SIGTERM, a second SIGTERM (forced
   * stop) after a while, SIGKILL last; then awaits the exit and its output.
   */
  stop(): Promise<Deno.CommandStatus>;
}

/** Starts `queuectl worker start <args>` on `db` and waits until its supervisor has started. */
export async function startWorker(
  db: string,
  args: string[] = [],
  options: { env?: Record<string, string> } = {},
): Promise<WorkerProcess> {
  const child = cliCommand(["worker", "start", ...args], { db, env: options.env }).spawn();
  const watched = watchChild(child);
  const { status, reading, kill } = watched;
  let stopping: Promise<Deno.CommandStatus> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      if (!watched.exited()) {
        kill("SIGTERM");
        if (!(await within(status, 5000))) {
          kill("SIGTERM"); // the second signal ends running jobs at once
          if (!(await within(status, 5000))) kill("SIGKILL");
        }
      }
      const result = await status;
      await reading;
      return result;
    })();
  const worker: WorkerProcess = {
    pid: child.pid,
    status,
    stdout: watched.stdout,
    stderr: watched.stderr,
    log: () =>
      `worker pid ${child.pid}; stdout:\n${watched.stdout()}\nstderr:\n${watched.stderr()}`,
    kill,
    async waitForOutput(pattern, timeoutMs = 15_000) {
      try {
        await waitFor(() => pattern.test(watched.stdout()) || watched.exited(), { timeoutMs });
      } catch {
        throw new Error(`The worker did not print ${pattern} in ${timeoutMs} ms\n${worker.log()}`);
      }
      if (!pattern.test(watched.stdout())) {
        await reading; // the rest of what it printed before it exited
        if (pattern.test(watched.stdout())) return;
        const { code, signal } = await status;
        throw new Error(
          `The worker exited (code ${code}, signal ${signal}) before printing ${pattern}\n${worker.log()}`,
        );
      }
    },
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
  try {
    await worker.waitForOutput(/^supervisor \S+ started/m);
  } catch (error) {
    await stop();
    throw error;
  }
  return worker;
}

/** Runs the CLI and fails the test unless it exits 0. */
export async function cliOk(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const result = await runCli(args, options);
  assert.equal(
    result.code,
    0,
    `queuectl ${args.join(" ")} exited ${result.code}: ${result.stderr}`,
  );
  return result;
}

/** Runs the CLI, killing it if it has not exited after `ms` (a hang fails the test). */
export async function runCliWithin(
  args: string[],
  options: RunCliOptions,
  ms: number,
): Promise<CliResult & { timedOut: boolean }> {
  const child = cliCommand(args, options).spawn();
  const output = child.output();
  const done = await within(output, ms);
  if (done) {
    const decoder = new TextDecoder();
    return {
      code: done.code,
      stdout: decoder.decode(done.stdout),
      stderr: decoder.decode(done.stderr),
      timedOut: false,
    };
  }
  try {
    child.kill("SIGKILL");
  } catch { /* gone meanwhile */ }
  const late = await output;
  const decoder = new TextDecoder();
  return {
    code: late.code,
    stdout: decoder.decode(late.stdout),
    stderr: decoder.decode(late.stderr),
    timedOut: true,
  };
}

/** Enqueues one job from an object; returns its id. */
export async function enqueue(db: string, job: Record<string, unknown>): Promise<string> {
  const result = await cliOk(["enqueue", JSON.stringify(job)], { db });
  return result.stdout.trim();
}

/** Enqueues many jobs in one batch (`enqueue --file -`). */
export async function enqueueMany(db: string, jobs: Record<string, unknown>[]): Promise<void> {
  await cliOk(["enqueue", "--file", "-"], {
    db,
    stdin: jobs.map((j) => JSON.stringify(j)).join("\n") + "\n",
  });
}

/** `config set key value`. */
export async function configSet(db: string, key: string, value: string | number): Promise<void> {
  await cliOk(["config", "set", key, String(value)], { db });
}

/** `show <id> --json`. */
export function show(db: string, id: string): Promise<JobWithRuns> {
  return cliJson<JobWithRuns>(["show", id], { db });
}

/** `status --json`. */
export function status(db: string): Promise<Stats> {
  return cliJson<Stats>(["status"], { db });
}

/** `worker list --json`. */
export function workerList(db: string): Promise<WorkerInfo[]> {
  return cliJson<WorkerInfo[]>(["worker", "list"], { db });
}

/**
 * The reads of `show --json`, `status --json` and `worker list --json`,
 * done in this process by the same functions the commands call: polling
 * through a new `deno` process every 100 ms would cost more CPU than the
 * workers under test on a 2-core machine. Assertions that matter also go
 * through the real CLI.
 */
export const read = {
  /** What `show <id> --json` prints, parsed. */
  async job(db: string, id: string): Promise<JobWithRuns> {
    await using store = await openStorage(db);
    const job = await store.jobGetWithRuns({ id });
    if (!job) throw new Error(`Job "${id}" not found`);
    return JSON.parse(JSON.stringify(job));
  },
  /** What `logs <id> --json` prints (the latest attempt), or `null` before the first run. */
  async logs(db: string, id: string): Promise<RunOutput | null> {
    await using store = await openStorage(db);
    return await store.runOutputGet({ id });
  },
  /** What `status --json` prints, parsed. */
  async status(db: string): Promise<Stats> {
    await using store = await openStorage(db);
    return JSON.parse(JSON.stringify(await readStats(store, Date.now())));
  },
  /** What `worker list --json` prints, parsed. */
  async workers(db: string): Promise<WorkerInfo[]> {
    const ctx: CliContext = { db, color: false, out: () => {}, err: () => {} };
    return JSON.parse(JSON.stringify(await readWorkers(ctx)));
  },
};

/** How long to poll, and which workers to describe when the wait fails. */
export interface WaitJobOptions {
  timeoutMs?: number;
  message?: string;
  workers?: WorkerProcess[];
  /** Poll through the real `queuectl show --json` rather than in this process. */
  cli?: boolean;
}

/** Polls the job (as `show --json` prints it) until `condition` holds; returns it. */
export async function waitForJob(
  db: string,
  id: string,
  condition: (job: JobWithRuns) => boolean,
  options: WaitJobOptions = {},
): Promise<JobWithRuns> {
  let last: JobWithRuns | undefined;
  try {
    return await waitFor(async () => {
      last = options.cli ? await show(db, id) : await read.job(db, id);
      return condition(last) ? last : null;
    }, {
      timeoutMs: options.timeoutMs ?? 15_000,
      intervalMs: options.cli ? 200 : 50,
      message: options.message,
    });
  } catch (error) {
    const logs = (options.workers ?? []).map((w) => w.log()).join("\n");
    throw new Error(
      `${(error as Error).message}; job ${id} was ${JSON.stringify(last, null, 1)}\n${logs}`,
    );
  }
}

/** Polls until the job reaches `state`. */
export function waitForState(
  db: string,
  id: string,
  state: JobWithRuns["state"],
  options: WaitJobOptions = {},
): Promise<JobWithRuns> {
  return waitForJob(db, id, (job) => job.state === state, {
    message: `job ${id} to be ${state}`,
    ...options,
  });
}

/** Polls the status (as `status --json` prints it) until `count` jobs are in `state`. */
export async function waitForCount(
  db: string,
  state: JobWithRuns["state"],
  count: number,
  options: WaitJobOptions = {},
): Promise<Stats> {
  let last: Stats | undefined;
  try {
    return await waitFor(async () => {
      last = options.cli ? await status(db) : await read.status(db);
      return last.counts[state] === count ? last : null;
    }, {
      timeoutMs: options.timeoutMs ?? 15_000,
      intervalMs: options.cli ? 200 : 50,
      message: options.message,
    });
  } catch (error) {
    const logs = (options.workers ?? []).map((w) => w.log()).join("\n");
    throw new Error(
      `${(error as Error).message} (${count} jobs ${state}); counts were ${
        JSON.stringify(last?.counts)
      }\n${logs}`,
    );
  }
}

/** A `sleep` no other test runs: its duration is unique, so it can be found by its command line. */
export function uniqueSleep(seconds = 30): string {
  const fraction = String(Math.floor(Math.random() * 1e6)).padStart(6, "0");
  return `sleep ${seconds}.${fraction}1`;
}

/** The pids of live processes whose command line contains `marker`. */
export async function pidsMatching(marker: string): Promise<number[]> {
  const { stdout } = await new Deno.Command("pgrep", {
    args: ["-f", "--", marker],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter((l) => l.trim() !== "").map(
    Number,
  ).filter((pid) => isLive(pid));
}

/** Whether `pid` is a live process (a zombie is not). */
export function isLive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Safety net after a test: ends processes left with `marker` (each found by its pid). */
export async function killMatching(marker: string): Promise<void> {
  for (const pid of await pidsMatching(marker)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone meanwhile */ }
  }
}

/** Milliseconds between two ISO times. */
export function msBetween(from: string, to: string): number {
  return Date.parse(to) - Date.parse(from);
}

/**
 * The pids of the watchdogs of supervisor `pid` (DESIGN.md, "Watchdog"):
 * `bash -c <script> queuectl-watchdog <grace> <supervisor pid> <worker id>`.
 */
export function watchdogsOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const args = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      if (args.at(-1) === "") args.pop();
      if (args.at(-4) === "queuectl-watchdog" && args.at(-2) === String(pid)) {
        if (isLive(Number(entry.name))) found.push(Number(entry.name));
      }
    } catch { /* gone meanwhile */ }
  }
  return found;
}

/**
 * Kills a worker process the way nothing of queuectl survives on its host
 * (a whole machine lost but its jobs): the supervisor is stopped first, so
 * it cannot start another watchdog, then its watchdog and it get SIGKILL.
 * What the rescuer does about the orphans is then all there is.
 */
export async function killWithWatchdog(pid: number): Promise<void> {
  Deno.kill(pid, "SIGSTOP");
  for (const watchdog of watchdogsOf(pid)) Deno.kill(watchdog, "SIGKILL");
  await waitFor(() => watchdogsOf(pid).length === 0, {
    timeoutMs: 5000,
    message: `the watchdog of ${pid} to die`,
  });
  Deno.kill(pid, "SIGKILL");
}
