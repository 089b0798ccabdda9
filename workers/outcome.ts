/** Pure mapping of a command's end to the stored outcome, error text and event line. */
import type { RunOutcome } from "../lib/job.ts";
import type { CommandOutcome } from "./messages.ts";

/** The stored outcome of a command's end. */
export function toRunOutcome(outcome: CommandOutcome): RunOutcome {
  switch (outcome.kind) {
    case "succeeded":
      return "succeeded";
    case "failed":
      return "failed";
    case "timedOut":
      return "timed_out";
    case "spawnFailed":
      return "spawn_failed";
    case "killed":
      return outcome.reason === "cancel" ? "cancelled" : "interrupted";
    default: {
      const never: never = outcome;
      throw new Error(`Unknown outcome ${JSON.stringify(never)}`);
    }
  }
}

/** The one-line error stored for a failed attempt, or `null` on success. */
export function describeOutcome(outcome: CommandOutcome): string | null {
  switch (outcome.kind) {
    case "succeeded":
      return null;
    case "failed":
      if (outcome.signal) return `killed by ${outcome.signal}`;
      return outcome.exitCode === 127
        ? "exit code 127 (command not found)"
        : `exit code ${outcome.exitCode}`;
    case "timedOut":
      return `timed out after ${outcome.seconds} s`;
    case "spawnFailed":
      return outcome.error;
    case "killed":
      return outcome.reason === "cancel"
        ? "cancelled while running"
        : outcome.reason === "fence"
        ? "interrupted: the worker could not renew its lease and stopped the job before it expired"
        : outcome.reason === "lost"
        ? "interrupted: the attempt was no longer this worker's (rescued, cancelled or removed)"
        : "stopped by force";
    default: {
      const never: never = outcome;
      throw new Error(`Unknown outcome ${JSON.stringify(never)}`);
    }
  }
}
