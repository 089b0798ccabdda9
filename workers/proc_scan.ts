/**
 * Finds a job's processes by the cookie in their environment (Linux
 * `/proc/<pid>/environ`), the way Jenkins' ProcessTreeKiller does: every
 * attempt runs with `QUEUECTL_RUN=<worker id>/<job id>/<attempt>`, which its
 * descendants inherit even when they leave the job's session (`setsid cmd &`,
 * double-forked daemons) or are reparented after their shell exits. The
 * store keeps the worker id, job id and attempt of a running job, so a
 * rescuer can rebuild the cookie after a crash without a schema change.
 *
 * Only a process that clears its environment (`env -i`, sudo, some daemons)
 * escapes the cookie; it is still ended with the job's process group while
 * it stays in it.
 */
import { isOwnSession, pidExistsFfi, readFileFfi } from "./spawn_ffi.ts";

/** The environment variable that marks every process of one attempt. */
export const RUN_COOKIE_VAR = "QUEUECTL_RUN";

/** The cookie of one attempt: unique per run, rebuilt from what the store keeps. */
export function runCookie(workerId: string, jobId: string, attempt: number): string {
  return `${workerId}/${jobId}/${attempt}`;
}

/** Where a scan may start: processes created after the job's shell (pid and wall time). */
export interface ScanSince {
  pid: number;
  atMs: number;
}

/**
 * Below this age, a job's descendants are found by probing only the pids
 * allocated since its shell (Linux allocates pids cyclically): a full wrap of
 * the pid space in under a second is out of reach. Older jobs scan all of /proc.
 */
const RANGE_SCAN_MAX_AGE_MS = 1000;
/** A longer range is cheaper to read from the /proc listing than to probe pid by pid. */
const RANGE_SCAN_MAX_PIDS = 512;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A whole small file (under /proc), or `null` when it cannot be read (gone,
 * not ours); by FFI `open`/`read` where loaded, as a view valid until the next call.
 */
export function readFile(path: string): Uint8Array | null {
  const fast = readFileFfi(path);
  if (fast !== undefined) return fast;
  try {
    return Deno.readFileSync(path);
  } catch {
    return null;
  }
}

/**
 * The fields of `/proc/<pid>/stat` after the command name (the first is the
 * state letter, field 3 of proc(5)), or `null` when the process is gone.
 */
export function statFields(pid: number): string[] | null {
  const bytes = readFile(`/proc/${pid}/stat`);
  if (bytes === null) return null;
  const stat = decoder.decode(bytes);
  // Field 2 (comm) may hold spaces and parentheses: split after the last ")".
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

function readNumber(path: string): number | null {
  const bytes = readFile(path);
  if (bytes === null) return null;
  const value = Number(decoder.decode(bytes).trim());
  return Number.isInteger(value) && value > 0 ? value : null;
}

let pidMax: number | null | undefined;

/** Pids that may belong to processes created after `since`, or `null` for "all of /proc". */
function candidatePids(since: ScanSince | undefined): number[] | null {
  if (since === undefined || Date.now() - since.atMs > RANGE_SCAN_MAX_AGE_MS) return null;
  const last = readNumber("/proc/sys/kernel/ns_last_pid");
  pidMax ??= readNumber("/proc/sys/kernel/pid_max");
  if (last === null || pidMax === null) return null;
  const length = last >= since.pid ? last - since.pid : pidMax - since.pid + last;
  if (length > RANGE_SCAN_MAX_PIDS) return null;
  const pids: number[] = [];
  for (let i = 1, pid = since.pid; i <= length; i++) {
    pid = pid + 1 >= pidMax ? 1 : pid + 1;
    pids.push(pid);
  }
  return pids;
}

function allPids(): number[] {
  const pids: number[] = [];
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      const pid = Number(entry.name);
      if (Number.isInteger(pid) && pid > 0) pids.push(pid);
    }
  } catch { /* not Linux */ }
  return pids;
}

/** Whether `haystack` holds `needle` as one whole NUL-separated entry. */
function hasEntry(haystack: Uint8Array, needle: Uint8Array): boolean {
  const first = needle[0]!;
  for (let i = haystack.indexOf(first); i !== -1; i = haystack.indexOf(first, i + 1)) {
    if (i > 0 && haystack[i - 1] !== 0) continue;
    const end = i + needle.length;
    if (end > haystack.length || (end < haystack.length && haystack[end] !== 0)) continue;
    let same = true;
    for (let j = 1; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) {
        same = false;
        break;
      }
    }
    if (same) return true;
  }
  return false;
}

/** Kernel threads have no environment, and an exiting process has none left. */
const PF_EXITING = 0x4;
const PF_KTHREAD = 0x200000;

/**
 * Whether a live process showing an empty environment may be mid-`execve`:
 * the kernel installs the new program's memory before it writes its
 * arguments and environment there, and `/proc/<pid>/environ` reads empty in
 * between. Zombies, exiting processes and kernel threads read empty for good;
 * so does a process run with `env -i`, but it still has its arguments. A
 * child of this process mid-exec is a job shell this worker is starting,
 * never a job's descendant: it is not waited for.
 */
export function mayBeInExec(pid: number): boolean {
  const cmdline = readFile(`/proc/${pid}/cmdline`);
  if (cmdline === null || cmdline.length > 0) return false;
  const fields = statFields(pid);
  if (fields === null) return false;
  const state = fields[0];
  const flags = Number(fields[6]);
  if (state === "Z" || state === "X" || (flags & (PF_EXITING | PF_KTHREAD)) !== 0) return false;
  return Number(fields[1]) !== Deno.pid;
}

/** One pass: the processes carrying a cookie, and whether one may be mid-exec. */
function scan(needles: Uint8Array[], since: ScanSince | undefined) {
  const pids = candidatePids(since) ?? allPids();
  const found: number[] = [];
  let unsettled = false;
  for (const pid of pids) {
    // This worker's own job shells lead sessions of their own: never a match.
    if (pid === Deno.pid || isOwnSession(pid)) continue;
    if (pidExistsFfi(pid) === false) continue; // most probed pids are gone: skip the open
    // null: gone, a thread's tid, or not ours to read.
    const environ = readFile(`/proc/${pid}/environ`);
    if (environ === null) continue;
    if (needles.some((needle) => hasEntry(environ, needle))) found.push(pid);
    else if (environ.length === 0 && !unsettled) unsettled = mayBeInExec(pid);
  }
  return { found, unsettled };
}

function needlesOf(cookie: string | string[]): Uint8Array[] {
  return (typeof cookie === "string" ? [cookie] : cookie).map((value) =>
    encoder.encode(`${RUN_COOKIE_VAR}=${value}`)
  );
}

/**
 * Live processes whose environment carries `cookie` (or one of several:
 * one pass over /proc for many runs). Zombies have no environment.
 * With `since`, a young job probes only the pids allocated after its shell.
 */
export function pidsWithCookie(cookie: string | string[], since?: ScanSince): number[] {
  const needles = needlesOf(cookie);
  return needles.length === 0 ? [] : scan(needles, since).found;
}

/** How many scans a signal may take before it gives up on what keeps appearing. */
const MAX_ROUNDS = 200;

/**
 * Sends `signal` to every process carrying `cookie`; returns how many were
 * signalled. With SIGKILL it scans again until none is left (a process just
 * killed shows its environment until it has exited), so what it returns is
 * gone. A scan that meets a process mid-exec, whose environment cannot be
 * read yet, looks again: a child of the job exec'ing just then would
 * otherwise be missed. A pid is signalled microseconds after its
 * environment matched: it cannot be reused in between short of a full wrap
 * of the pid space.
 */
export async function signalByCookie(
  cookie: string | string[],
  signal: Deno.Signal,
  since?: ScanSince,
): Promise<number> {
  const needles = needlesOf(cookie);
  const signalled = new Set<number>();
  for (let round = 0; round < MAX_ROUNDS && needles.length > 0; round++) {
    const { found, unsettled } = scan(needles, since);
    for (const pid of found) {
      if (signal !== "SIGKILL" && signalled.has(pid)) continue;
      try {
        Deno.kill(pid, signal);
        signalled.add(pid);
      } catch { /* exited meanwhile */ }
    }
    if (!unsettled && (found.length === 0 || signal !== "SIGKILL")) break;
    await new Promise((resolve) => setTimeout(resolve, round < 10 ? 1 : 10));
  }
  return signalled.size;
}
