/**
 * Runs one attempt as `sh -c <command>`: the only place that spawns a job
 * and turns what happened into a {@linkcode CommandOutcome}.
 *
 * The shell leads its own session and process group, so a terminal's
 * Ctrl-C to the supervisor's group never reaches it, and signals go to the
 * whole group (`kill(-pgid)`). Where FFI is allowed on glibc it starts with
 * one process start (`posix_spawn` with `POSIX_SPAWN_SETSID`, see
 * `spawn_ffi.ts`); elsewhere `setsid(1)` execs the shell (two execs), or,
 * without `setsid(1)`, Deno's `detached` (a full fork). `QUEUECTL_SPAWN=fallback`
 * forces the fallback.
 *
 * Every process of the attempt carries the run's cookie in its environment
 * (`proc_scan.ts`): descendants that left the group (`setsid cmd &`,
 * daemons) are found by it and ended with the job.
 */
import type { CommandResult, KillReason, RunRequest } from "./messages.ts";
import { processStartTime, signalGroup } from "./process_group.ts";
import { RUN_COOKIE_VAR, runCookie, signalByCookie } from "./proc_scan.ts";
import { ffiUnavailableReason, spawnSession } from "./spawn_ffi.ts";
import { TailBuffer } from "./tail_buffer.ts";
import { errorMessage } from "../lib/errors.ts";

/** Seconds between SIGTERM and SIGKILL when a job is stopped. */
export const KILL_GRACE_MS = 3000;

/** `setsid` from util-linux, when present; else Deno's `detached` is used. */
const SETSID = ["/usr/bin/setsid", "/bin/setsid"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}) ?? null;

/** Hooks and controls of {@linkcode runCommand}. */
export interface RunCommandOptions {
  /**
   * Called once the process exists, with its pid (= process group id) and
   * a reader of its start time (from /proc), valid until this run ends.
   * Reading the start time of a shell still inside `execve` waits for the
   * exec to finish (on a loaded machine, milliseconds of a spinning lock),
   * so it is read when first asked, or as the shell ends.
   */
  onStart?: (pid: number, procStart: () => string | null) => void;
  /** Called at most every `outputEveryMs` with the output so far, while it changes. */
  onOutput?: (stdout: Uint8Array, stderr: Uint8Array) => void;
  outputEveryMs?: number;
  /**
   * Aborting stops the job: with `reason` "force" at once; "cancel" or
   * "fence" with SIGTERM, then SIGKILL after a grace.
   */
  signal?: AbortSignal;
  /** Overrides {@linkcode KILL_GRACE_MS} (tests). */
  killGraceMs?: number;
  /**
   * Set by the run once its process started: stops it for `reason`, also
   * after an earlier stop (a fence or a lost attempt shortens the wait for
   * SIGKILL of a job already being cancelled or timed out).
   */
  control?: { kill?: (reason: KillReason, graceMs?: number) => void };
}

/**
 * After its shell exited and its processes were ended, how long a job's
 * pipes may stay open (held by a descendant that cleared its environment
 * and left the group) before the job ends without the rest of its output.
 */
const OUTPUT_AFTER_EXIT_MS = 500;

let localId: string | undefined;
/** The worker's environment, read once: nothing in a worker process changes it. */
let workerEnv: Record<string, string> | undefined;

/** Stands in for the worker id in the cookie when the request has none (direct calls, tests). */
function localRunner(): string {
  localId ??= `local-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  return localId;
}

function describeSpawnError(error: unknown, request: RunRequest): string {
  if (request.cwd !== null) {
    try {
      if (!Deno.statSync(request.cwd).isDirectory) {
        return `cannot start: working directory "${request.cwd}" is not a directory`;
      }
    } catch {
      return `cannot start: working directory "${request.cwd}" does not exist`;
    }
  }
  return `cannot start: ${errorMessage(error)}`;
}

/**
 * A started job, whichever way it was started: the shell leads its own
 * process group and session (pid = pgid = sid).
 */
interface JobProcess {
  pid: number;
  /** The shell exited; with FFI it stays unreaped (its group pinned) until `release()`. */
  status: Promise<{ code: number; signal: Deno.Signal | null }>;
  /** Both pipes at end of file. */
  output: Promise<void>;
  closeOutput(): void;
  release(): void;
  /** True while `kill(-pid)` may not find the group yet (setsid(1) still starting). */
  groupPending: boolean;
  /** The shell's pid stays its own until `release()` (FFI); else it may be reaped any time. */
  pinned: boolean;
}

// Load the FFI way as the module loads (a Web Worker's start), not on the first job's pickup.
ffiUnavailableReason();

/** Which way jobs start in this isolate: "ffi" (posix_spawn + SETSID) or the fallback. */
export function spawnMethod(): "ffi" | "setsid" | "detached" {
  if (ffiUnavailableReason() === null) return "ffi";
  return SETSID ? "setsid" : "detached";
}

function startWithCommand(
  request: RunRequest,
  env: Record<string, string>,
  stdout: TailBuffer,
  stderr: TailBuffer,
): JobProcess {
  const shell = ["/bin/sh", "-c", request.command];
  const child = new Deno.Command(SETSID ?? "/bin/sh", {
    args: SETSID ? shell : shell.slice(1),
    cwd: request.cwd ?? undefined,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: SETSID === null,
  }).spawn();
  const readers = [child.stdout.getReader(), child.stderr.getReader()];
  const drain = async (reader: ReadableStreamDefaultReader<Uint8Array>, into: TailBuffer) => {
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) into.push(r.value);
    } catch { /* cancelled */ }
  };
  return {
    pid: child.pid,
    status: child.status,
    output: Promise.all([drain(readers[0]!, stdout), drain(readers[1]!, stderr)]).then(() => {}),
    closeOutput: () => readers.forEach((reader) => reader.cancel().catch(() => {})),
    release: () => {},
    groupPending: SETSID !== null,
    pinned: false,
  };
}

function spawnFailed(message: string): CommandResult {
  return {
    outcome: { kind: "spawnFailed", error: message },
    exitCode: null,
    signal: null,
    stdout: new Uint8Array(),
    stderr: new TextEncoder().encode(message + "\n"),
    finishedAt: Date.now(),
  };
}

/** Runs `request` to its end and reports how it ended, with the kept output. */
export async function runCommand(
  request: RunRequest,
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  const stdout = new TailBuffer(request.outputLimit);
  const stderr = new TailBuffer(request.outputLimit);
  const cookie = runCookie(request.workerId ?? localRunner(), request.id, request.attempt);
  const env: Record<string, string> = {
    // posix_spawn takes the whole environment; Deno.Command adds the worker's itself.
    ...(ffiUnavailableReason() === null ? (workerEnv ??= Deno.env.toObject()) : {}),
    ...request.env,
    QUEUECTL_JOB_ID: request.id,
    QUEUECTL_ATTEMPT: String(request.attempt),
    [RUN_COOKIE_VAR]: cookie,
  };
  let child: JobProcess;
  const startedAt = Date.now();
  try {
    if (ffiUnavailableReason() === null) {
      const started = spawnSession({
        command: request.command,
        cwd: request.cwd,
        env,
        onStdout: (chunk) => stdout.push(chunk),
        onStderr: (chunk) => stderr.push(chunk),
      });
      if (!started.ok) throw new Error(started.error);
      child = { ...started.process, groupPending: false, pinned: true };
    } else {
      child = startWithCommand(request, env, stdout, stderr);
    }
  } catch (error) {
    return spawnFailed(describeSpawnError(error, request));
  }
  const pid = child.pid;
  const since = { pid, atMs: startedAt };
  let exited = false;
  // With FFI the shell stays unreaped until release(), so its start time can be
  // read later; else it is read now, before Deno may reap it (with setsid(1)
  // it survives setsid's exec of the shell).
  let procStart = child.pinned ? undefined : processStartTime(pid);
  const startTime = () => procStart ??= processStartTime(pid);
  options.onStart?.(pid, startTime);

  // The group, and what left it (by the run's cookie). With setsid(1),
  // spawn() returns before the new group exists: until it does, kill(-pid)
  // finds none, so retry briefly, then signal the shell alone.
  const signal = (sig: Deno.Signal, triesLeft = 200) => {
    if (exited) return;
    // The group first, in one kill: the shell must not outlive (and report on)
    // a child the cookie scan reached before it.
    const grouped = signalGroup(pid, sig);
    signalByCookie(cookie, sig, since);
    if (grouped || !child.groupPending) return;
    if (triesLeft > 0) setTimeout(() => signal(sig, triesLeft - 1), 1);
    else {
      try {
        Deno.kill(pid, sig);
      } catch { /* gone */ }
    }
  };

  const grace = options.killGraceMs ?? KILL_GRACE_MS;
  let stopped: "timeout" | KillReason | null = null;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  /** When SIGKILL is due (monotonic), once a stop began. */
  let killAt = Infinity;
  // The first stop names the outcome; any later one may only bring SIGKILL sooner.
  const stop = (why: "timeout" | KillReason, graceMs?: number) => {
    const atOnce = why === "force" || why === "lost";
    if (stopped === null) {
      stopped = why;
      if (!atOnce) signal("SIGTERM");
    }
    const wait = atOnce
      ? 0
      : why === "fence"
      ? Math.min(grace, graceMs ?? request.fenceGraceMs)
      : grace;
    const at = performance.now() + wait;
    if (at >= killAt) return;
    killAt = at;
    clearTimeout(killTimer);
    if (wait === 0) signal("SIGKILL");
    else killTimer = setTimeout(() => signal("SIGKILL"), wait);
  };
  if (options.control) options.control.kill = stop;
  const timeoutTimer = request.timeoutMs > 0
    ? setTimeout(() => stop("timeout"), request.timeoutMs)
    : undefined;
  const onAbort = () => {
    const reason = options.signal?.reason;
    stop(reason === "force" || reason === "fence" || reason === "lost" ? reason : "cancel");
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  let outputTimer: ReturnType<typeof setInterval> | undefined;
  if (options.onOutput) {
    let seen = 0;
    outputTimer = setInterval(() => {
      const total = stdout.total + stderr.total;
      if (total === seen) return;
      seen = total;
      options.onOutput!(stdout.bytes(), stderr.bytes());
    }, options.outputEveryMs ?? 1000);
  }

  // The job ends when its shell exits. What it left behind goes then: its
  // group (pinned by the unreaped leader with FFI), and every process with
  // the run's cookie, even those that made their own session.
  const status = await child.status;
  clearTimeout(timeoutTimer);
  clearTimeout(killTimer);
  signalGroup(pid, "SIGKILL");
  await signalByCookie(cookie, "SIGKILL", since);
  exited = true;
  if (options.onStart) startTime(); // a start not yet reported may still be
  child.release();
  // A descendant that cleared its environment and left the group may still
  // hold the pipes: it gets a short while to let go, never the job's fate.
  let capTimer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    child.output,
    new Promise((resolve) => (capTimer = setTimeout(resolve, OUTPUT_AFTER_EXIT_MS))),
  ]);
  clearTimeout(capTimer);
  child.closeOutput();
  const finishedAt = Date.now();
  clearInterval(outputTimer);
  options.signal?.removeEventListener("abort", onAbort);

  const exitCode = status.signal === null ? status.code : null;
  const base = {
    exitCode,
    signal: status.signal,
    stdout: stdout.bytes(),
    stderr: stderr.bytes(),
    finishedAt,
  };
  if (stopped === "timeout") {
    return { ...base, outcome: { kind: "timedOut", seconds: request.timeoutMs / 1000 } };
  }
  if (stopped !== null) {
    return { ...base, outcome: { kind: "killed", reason: stopped } };
  }
  if (status.signal === null && status.code === 0) {
    return { ...base, outcome: { kind: "succeeded" } };
  }
  return { ...base, outcome: { kind: "failed", exitCode, signal: status.signal } };
}

/**
 * {@linkcode runCommand} that always settles with a result: an unexpected
 * rejection becomes a failed start, so the job worker always reports
 * `finished` and no slot stays busy (nor its job `processing`) forever.
 * `run` is replaceable for tests.
 */
export async function runCommandSettled(
  request: RunRequest,
  options: RunCommandOptions = {},
  run: typeof runCommand = runCommand,
): Promise<CommandResult> {
  try {
    return await run(request, options);
  } catch (error) {
    return {
      outcome: {
        kind: "spawnFailed",
        error: `cannot run: ${errorMessage(error)}`,
      },
      exitCode: null,
      signal: null,
      stdout: new Uint8Array(),
      stderr: new Uint8Array(),
      finishedAt: Date.now(),
    };
  }
}
