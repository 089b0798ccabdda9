/**
 * Periodic maintenance started and stopped with a supervisor: work a
 * worker process does beside running jobs (firing due schedules, pruning
 * old jobs). The supervisor starts each component once it has registered
 * (after its first rescue) and stops it before it unregisters; a component
 * must never write a job's run (that is the completer's) nor claim.
 * The heartbeat (leases, requests, fencing, rescuer) is built in.
 * A component keeps its own timer and runs its passes through
 * `oneAtATime()` (`one_at_a_time.ts`), as the pruner and the scheduler do.
 */
import type { Config } from "../lib/config.ts";
import type { Storage } from "../lib/storage/storage.ts";
import type { SupervisorEvent } from "./events.ts";

/** What a component gets from the supervisor that runs it. */
export interface MaintenanceContext {
  store: Storage;
  /** The supervisor's id in the workers registry. */
  workerId: string;
  host: string;
  /** The latest settings (re-read on every wake-up). */
  config(): Config;
  emit(event: SupervisorEvent): void;
}

/** A periodic part of a worker process; see the module comment. */
export interface Maintenance {
  /** For error messages, e.g. "pruner". */
  readonly name: string;
  start(context: MaintenanceContext): void;
  /** Ends its timers and waits for a run in progress. */
  stop(): Promise<void>;
  /** A commit happened somewhere (the store's change feed); optional. */
  wake?(): void;
  /** Every event of its supervisor (e.g. `job:end` once the finish committed); optional. */
  onEvent?(event: SupervisorEvent): void;
}
