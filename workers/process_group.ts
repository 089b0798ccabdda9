/**
 * Process-group helpers (Linux): a job runs in its own group so that the
 * whole tree can be signalled, and its start time tells a live orphan from
 * a reused pid after a crash.
 */
import { signalByCookie, statFields } from "./proc_scan.ts";
import { pidSpace } from "../lib/host_id.ts";
import type { WorkerInfo } from "../lib/storage/storage.ts";

/** What /proc tells of a process: its state letter, process group and start time. */
export interface ProcessStat {
  state: string;
  pgrp: number;
  /** Clock ticks since boot: with the pid, tells a process from a later one reusing its pid. */
  startTime: string;
}

/** Reads /proc/<pid>/stat, or `null` when the process is gone (or not Linux). */
export function processStat(pid: number): ProcessStat | null {
  const fields = statFields(pid);
  if (fields === null) return null;
  return { state: fields[0]!, pgrp: Number(fields[2]), startTime: fields[19]! };
}

/** The start time of process `pid` (clock ticks since boot, from /proc), or `null`. */
export function processStartTime(pid: number): string | null {
  return processStat(pid)?.startTime ?? null;
}

/** Whether a process with this pid exists. */
export function processAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * What this host can tell of a registered worker process of its own host
 * id: "alive" (its pid runs here, with the start time it registered),
 * "gone" (same pid space, and that process is not there: dead for sure),
 * or "unseen" (registered from another pid space, a machine given the
 * same host id: its pid means nothing here, only its heartbeat and leases
 * do). Entries registered without a start time or space are judged by the
 * pid alone, as before.
 */
export function workerPresence(
  worker: Pick<WorkerInfo, "pid" | "proc_start" | "pid_space">,
  space: string = pidSpace(),
): "alive" | "gone" | "unseen" {
  if (worker.pid_space !== null && worker.pid_space !== space) return "unseen";
  if (worker.proc_start !== null) {
    return processStartTime(worker.pid) === worker.proc_start ? "alive" : "gone";
  }
  return processAlive(worker.pid) ? "alive" : "gone";
}

/** Sends `signal` to every process of group `pgid`; false when the group is gone. */
export function signalGroup(pgid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends an orphaned job's process group left by a crashed supervisor, but
 * only if its leader is the same process (same start time), never a
 * process that reused the pid. Returns whether it was signalled.
 */
export function killOrphanGroup(pgid: number, procStart: string | null): boolean {
  if (procStart === null) return false;
  if (processStartTime(pgid) !== procStart) return false;
  return signalGroup(pgid, "SIGKILL");
}

/** What the store keeps of a run to find its orphans after a crash. */
export interface OrphanedRun {
  pgid: number | null;
  procStart: string | null;
  /** The run's cookie (`proc_scan.ts`), or `null` when it cannot be rebuilt. */
  cookie: string | null;
}

/**
 * Ends what crashed supervisors' runs left on this host: each run's process
 * group while its leader is the same process (start time checked, so a
 * reused pid is never hit), and every process carrying one of the runs'
 * cookies (one pass over /proc for all), also those that left the group or
 * outlived their shell. Resolves once they are gone.
 */
export async function endOrphans(runs: OrphanedRun[]): Promise<void> {
  for (const run of runs) {
    if (run.pgid !== null) killOrphanGroup(run.pgid, run.procStart);
  }
  const cookies = runs.flatMap((run) => run.cookie === null ? [] : [run.cookie]);
  if (cookies.length > 0) await signalByCookie(cookies, "SIGKILL");
}
