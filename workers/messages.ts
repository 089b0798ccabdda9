/**
 * The closed message protocol between the supervisor (main thread) and its
 * job workers (Web Workers). Payloads are plain, structured-cloneable data.
 */

/** What a job worker needs to run one attempt. */
export interface RunRequest {
  id: string;
  attempt: number;
  command: string;
  cwd: string | null;
  env: Record<string, string> | null;
  /** 0 means no time limit. */
  timeoutMs: number;
  /** Bytes of stdout and of stderr to keep (the last ones). */
  outputLimit: number;
  /**
   * SIGTERM to SIGKILL when fenced: short enough to end before the lease
   * does (a fence's kill message may bring a newer one).
   */
  fenceGraceMs: number;
  /**
   * The supervisor running the attempt: part of the run's cookie
   * (`QUEUECTL_RUN`), so a rescuer can find its processes after a crash.
   */
  workerId?: string;
}

/**
 * Why the supervisor stops a running job: `cancel` (asked by `cancel`),
 * `force` (a forced stop: at once, not counted), `fence` (its lease could
 * not be renewed, so it must end before another host may take the job),
 * `lost` (a renewal showed the attempt is no longer this worker's: at once).
 */
export type KillReason = "cancel" | "force" | "fence" | "lost";

/** How a command ended; `run_command.ts` is the only place that makes one. */
export type CommandOutcome =
  | { kind: "succeeded" }
  | { kind: "failed"; exitCode: number | null; signal: string | null }
  | { kind: "timedOut"; seconds: number }
  | { kind: "spawnFailed"; error: string }
  | { kind: "killed"; reason: KillReason };

/** The result of one attempt with its captured output. */
export interface CommandResult {
  outcome: CommandOutcome;
  exitCode: number | null;
  signal: string | null;
  stdout: Uint8Array;
  stderr: Uint8Array;
  finishedAt: number;
}

/** Supervisor → job worker. */
export type ToJobWorker =
  | { type: "run"; request: RunRequest }
  | {
    type: "kill";
    id: string;
    reason: KillReason;
    /** SIGTERM to SIGKILL of a fence, from the lease in force when it fired. */
    graceMs?: number;
  }
  | { type: "close" };

/** Job worker → supervisor. */
export type FromJobWorker =
  | { type: "started"; id: string; attempt: number; pid: number; procStart: string | null }
  | { type: "output"; id: string; attempt: number; stdout: Uint8Array; stderr: Uint8Array }
  | { type: "finished"; id: string; attempt: number; result: CommandResult };
