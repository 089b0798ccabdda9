/** The supervisor's typed events and their one-line text for the foreground log. */
import type { RunOutcome } from "../lib/job.ts";
import type { ClaimedJob } from "../lib/storage/storage.ts";

/** Something a supervisor did; listeners print or count them. */
export type SupervisorEvent =
  | { type: "job:start"; slot: number; id: string; attempt: number; maxAttempts: number }
  | {
    type: "job:end";
    slot: number;
    id: string;
    attempt: number;
    maxAttempts: number;
    outcome: RunOutcome;
    error: string | null;
    state: "completed" | "failed" | "dead" | "cancelled" | "pending";
    durationMs: number;
    /** Seconds until the retry, for `failed`. */
    retryInS: number | null;
    /** False when the job had been rescued meanwhile and this result was dropped. */
    applied: boolean;
    /** The attempt as it ran and its result, for `on_finish` hooks (README "Hooks"). */
    ran?: { job: ClaimedJob; exitCode: number | null; stdout: Uint8Array; stderr: Uint8Array };
  }
  | {
    type: "job:rescued";
    id: string;
    attempt: number;
    maxAttempts: number;
    reason: string;
    state: "failed" | "dead" | "pending" | "completed" | "cancelled";
    retryInS: number | null;
  }
  | {
    type: "schedule:fire";
    name: string;
    /** Ids of the jobs enqueued. */
    inserted: string[];
    /** Ids left out: the previous job was still active. */
    skipped: string[];
    /** Due times missed while no worker ran, left out by the catch-up mode. */
    missed: number;
  }
  | { type: "supervisor:start"; id: string; count: number; queues: string[] | null }
  | { type: "supervisor:stopping"; mode: "graceful" | "force"; running: number }
  | { type: "supervisor:stop"; id: string }
  | { type: "supervisor:error"; message: string };

function seconds(s: number): string {
  return `${Math.round(s * 10) / 10} s`;
}

function failureText(outcome: RunOutcome, error: string | null): string {
  if (outcome === "timed_out") return error ?? "timed out";
  if (outcome === "spawn_failed") return `failed to start (${error})`;
  if (outcome === "interrupted") return `interrupted (${error})`;
  const exit = error?.match(/^exit code (\d+)/);
  return `failed (${exit ? `exit ${exit[1]}` : error})`;
}

/** The foreground log line of an event, e.g. `worker-1  job ok1  completed in 12 ms`. */
export function formatEvent(event: SupervisorEvent): string {
  switch (event.type) {
    case "job:start":
      return `worker-${event.slot}  job ${event.id}  started (attempt ${event.attempt}/${event.maxAttempts})`;
    case "job:end": {
      const head = `worker-${event.slot}  job ${event.id}  `;
      if (!event.applied) {
        return `${head}finished, but it was recovered by another worker meanwhile`;
      }
      switch (event.state) {
        case "completed":
          return `${head}completed in ${event.durationMs} ms`;
        case "cancelled":
          return `${head}cancelled`;
        case "pending":
          return `${head}stopped, back to pending`;
        case "failed":
          return `${head}${failureText(event.outcome, event.error)}, retry ${event.attempt}/${
            event.maxAttempts - 1
          } in ${seconds(event.retryInS ?? 0)}`;
        case "dead":
          return `${head}${
            failureText(event.outcome, event.error)
          }; moved to DLQ after ${event.attempt} attempt${event.attempt === 1 ? "" : "s"}`;
      }
      break;
    }
    case "job:rescued": {
      const head = `rescuer   job ${event.id}  interrupted (${event.reason})`;
      if (event.state === "failed") {
        return `${head}, retry ${event.attempt}/${event.maxAttempts - 1} in ${
          seconds(event.retryInS ?? 0)
        }`;
      }
      if (event.state === "dead") return `${head}; moved to DLQ after ${event.attempt} attempts`;
      return `${head}; now ${event.state}`;
    }
    case "schedule:fire": {
      const parts = [
        ...event.inserted.map((id) => `enqueued ${id}`),
        ...(event.skipped.length > 0
          ? [`skipped ${event.skipped.length} (previous job still active)`]
          : []),
        ...(event.missed > 0 ? [`missed ${event.missed} while no worker ran`] : []),
      ];
      return `scheduler schedule ${event.name}  ${parts.join("; ") || "nothing due"}`;
    }
    case "supervisor:start":
      return `supervisor ${event.id} started ${event.count} worker${event.count === 1 ? "" : "s"}${
        event.queues
          ? ` on queue${event.queues.length === 1 ? "" : "s"} ${event.queues.join(", ")}`
          : ""
      }`;
    case "supervisor:stopping":
      return event.mode === "graceful"
        ? event.running === 0
          ? "stopping"
          : `stopping: waiting for ${event.running} running job${
            event.running === 1 ? "" : "s"
          } to finish (signal again to stop them now)`
        : `stopping now: ${event.running} running job${
          event.running === 1 ? " goes" : "s go"
        } back to pending`;
    case "supervisor:stop":
      return `supervisor ${event.id} stopped`;
    case "supervisor:error":
      return `error: ${event.message}`;
  }
  return "";
}
