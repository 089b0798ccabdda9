/**
 * Runs one attempt with `Deno.Command` as `sh -c <command>`: the only place
 * that spawns a job and turns what happened into a {@linkcode CommandOutcome}.
 *
 * The job leads its own process group (and session); signals go to the
 * whole group (`kill(-pgid)`), because signalling only the shell would
 * leave grandchildren holding the output pipes open.
 *
 * The group comes from `setsid(1)` rather than `detached: true`: Deno's
 * `spawn()` with `detached` forks the whole supervisor (copying the page
 * tables of every Web Worker's isolate, ~4 ms a job), while without it
 * the child starts by vfork/posix_spawn and `setsid` execs `sh` at once.
 */
import type { CommandResult, KillReason, RunRequest } from "./messages.ts";
import { processStartTime, signalGroup } from "./process_group.ts";
import { TailBuffer } from "./tail_buffer.ts";

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
  /** Called once the process exists, with its pid (= process group id). */
  onStart?: (pid: number, procStart: string | null) => void;
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
}

async function drain(stream: ReadableStream<Uint8Array>, into: TailBuffer): Promise<void> {
  for await (const chunk of stream) into.push(chunk);
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
  return `cannot start: ${error instanceof Error ? error.message : String(error)}`;
}

/** Runs `request` to its end and reports how it ended, with the kept output. */
export async function runCommand(
  request: RunRequest,
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  const stdout = new TailBuffer(request.outputLimit);
  const stderr = new TailBuffer(request.outputLimit);
  const env: Record<string, string> = {
    ...request.env,
    QUEUECTL_JOB_ID: request.id,
    QUEUECTL_ATTEMPT: String(request.attempt),
  };
  let child: Deno.ChildProcess;
  try {
    const shell = ["/bin/sh", "-c", request.command];
    child = new Deno.Command(SETSID ?? "/bin/sh", {
      args: SETSID ? shell : shell.slice(1),
      cwd: request.cwd ?? undefined,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: SETSID === null,
    }).spawn();
  } catch (error) {
    const message = describeSpawnError(error, request);
    return {
      outcome: { kind: "spawnFailed", error: message },
      exitCode: null,
      signal: null,
      stdout: new Uint8Array(),
      stderr: new TextEncoder().encode(message + "\n"),
      finishedAt: Date.now(),
    };
  }
  const pid = child.pid;
  let exited = false;
  // The start time survives setsid's exec of the shell, so it is read now.
  options.onStart?.(pid, processStartTime(pid));

  // spawn() returns before setsid has made the new group; until it has,
  // kill(-pid) finds no group. Retry briefly, then signal the shell alone.
  const signal = (sig: Deno.Signal, triesLeft = 200) => {
    if (exited || signalGroup(pid, sig)) return;
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
  const stop = (why: "timeout" | KillReason) => {
    if (stopped) return;
    stopped = why;
    if (why === "force") {
      signal("SIGKILL");
      return;
    }
    signal("SIGTERM");
    killTimer = setTimeout(
      () => signal("SIGKILL"),
      why === "fence" ? Math.min(grace, request.fenceGraceMs) : grace,
    );
  };
  const timeoutTimer = request.timeoutMs > 0
    ? setTimeout(() => stop("timeout"), request.timeoutMs)
    : undefined;
  const onAbort = () => {
    const reason = options.signal?.reason;
    stop(reason === "force" || reason === "fence" ? reason : "cancel");
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

  const reading = Promise.all([drain(child.stdout, stdout), drain(child.stderr, stderr)]);
  const status = await child.status;
  exited = true;
  // The shell is gone; whatever it left running in its group goes too, so
  // no grandchild outlives its job or keeps the pipes (and us) waiting.
  signalGroup(pid, "SIGKILL");
  await reading;
  const finishedAt = Date.now();
  clearTimeout(timeoutTimer);
  clearTimeout(killTimer);
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
  if (status.success) return { ...base, outcome: { kind: "succeeded" } };
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
        error: `cannot run: ${error instanceof Error ? error.message : String(error)}`,
      },
      exitCode: null,
      signal: null,
      stdout: new Uint8Array(),
      stderr: new Uint8Array(),
      finishedAt: Date.now(),
    };
  }
}
