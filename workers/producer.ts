/**
 * The producer: claims due jobs for the free slots, one statement per
 * round. Woken by the store's change feed (any commit), by a timer when the
 * next job is due, and by the completer when slots free up; an idle wake-up
 * first reads the next due time (a cheap read, so it never takes a write
 * lock), a round after a full claim claims again at once.
 */
import type { Config } from "../lib/config.ts";
import type { ClaimedJob, Storage } from "../lib/storage/storage.ts";
import { oneAtATime } from "./one_at_a_time.ts";
import type { Settings } from "./settings.ts";

/** Slowest wait between looks at the queue when the change feed stays silent. */
export const IDLE_POLL_MS = 1000;

/** How a producer is set up. */
export interface ProducerOptions {
  store: Pick<Storage, "now" | "jobNextDueAt" | "jobClaim">;
  workerId: string;
  queues: string[] | null;
  settings: Settings;
  /** Slots free now. */
  free(): number;
  /** Jobs running now. */
  running(): number;
  /** False while stopping or while leases cannot be renewed. */
  mayClaim(): boolean;
  /**
   * Jobs were claimed (at most `free()` of them): run them. `idle` says
   * nothing ran before, so the claim renewed every lease, as a heartbeat
   * begun at `claimStart` (monotonic) would have.
   */
  claimed(jobs: ClaimedJob[], info: { config: Config; idle: boolean; claimStart: number }): void;
  onError(message: string): void;
}

/** Claims jobs for free slots; see the module comment. */
export class Producer {
  #options: ProducerOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  /** The last claim filled every free slot, so more jobs may be due. */
  #moreWaiting = false;
  #fill = oneAtATime(() => this.#round());

  constructor(options: ProducerOptions) {
    this.#options = options;
  }

  /** A claim is in progress. */
  get busy(): boolean {
    return this.#fill.busy;
  }

  /** A job may be due: look at the queue now. Resolves when that look (and any it asked for) ended. */
  wake(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return this.#fill();
  }

  /** Claims nothing more; resolves once a claim in progress has handed its jobs over. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    while (this.#fill.busy) await this.#fill();
  }

  #scheduleWake(dueAt: number | null, now: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    const wait = dueAt === null ? IDLE_POLL_MS : Math.min(IDLE_POLL_MS, Math.max(0, dueAt - now));
    this.#timer = setTimeout(() => void this.wake(), wait);
  }

  async #round(): Promise<void> {
    const { store, settings } = this.#options;
    try {
      for (;;) {
        if (this.#stopped || !this.#options.mayClaim()) return;
        const free = this.#options.free();
        if (free === 0) return;
        const idle = this.#options.running() === 0;
        const claimStart = performance.now();
        const now = store.now();
        const config = await settings.fresh(now);
        // After a full claim more jobs likely wait: claim again at once. Else
        // a cheap read first, so an idle wake-up never takes a write lock
        // (and, on PostgreSQL, a drain does not scan the due index twice a job).
        if (!this.#moreWaiting) {
          const dueAt = await store.jobNextDueAt({ queues: this.#options.queues });
          if (dueAt === null || dueAt > now) {
            this.#scheduleWake(dueAt, now);
            return;
          }
        }
        const jobs = await store.jobClaim({
          workerId: this.#options.workerId,
          queues: this.#options.queues,
          limit: free,
          now,
          leaseMs: config.lease_timeout * 1000,
        });
        if (jobs.length > 0) this.#options.claimed(jobs, { config, idle, claimStart });
        this.#moreWaiting = jobs.length === free;
        if (!this.#moreWaiting) {
          this.#scheduleWake(null, now);
          return;
        }
      }
    } catch (error) {
      this.#options.onError(errorMessage(error));
      this.#scheduleWake(null, Date.now());
    }
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
