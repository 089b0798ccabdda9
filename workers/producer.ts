/**
 * The producer: claims due jobs for the free slots, one statement per
 * round. Woken by the store's change feed (any commit), by a timer when the
 * next job is due, and by the completer when slots free up; an idle wake-up
 * first reads the next due time (a cheap read, so it never takes a write
 * lock), a round after a full claim claims again at once.
 *
 * While jobs keep coming (the last claim was full), the slots that
 * finishes free are claimed along with the completer's write of those
 * finishes ({@linkcode Producer.rideAlong}): a drained job then costs one
 * transaction, not two. How many slots a claim may take, a round's or a
 * riding one's, is the {@linkcode SlotCount}'s answer: slots lent to a
 * riding claim, and slots the completer's next write claims for, are not
 * claimed by a round meanwhile.
 */
import type { Config } from "../lib/config.ts";
import type { ClaimedJob, ClaimParams, Storage } from "../lib/storage/storage.ts";
import { oneAtATime } from "./one_at_a_time.ts";
import type { Settings } from "./settings.ts";
import type { SlotCount } from "./slot_count.ts";
import { errorMessage } from "../lib/errors.ts";

/** Slowest wait between looks at the queue when the change feed stays silent. */
export const IDLE_POLL_MS = 1000;

/**
 * Test hook: the answers of this many claim rounds that took jobs are
 * thrown away, as if the connection died after the commit (a ghost claim,
 * DESIGN.md "Fencing").
 */
let dropClaimAnswers = Number(Deno.env.get("QUEUECTL_TEST_DROP_CLAIM_ANSWERS") ?? 0) || 0;

/** How a producer is set up. */
export interface ProducerOptions {
  store: Pick<Storage, "now" | "jobNextDueAt" | "jobClaim">;
  workerId: string;
  queues: string[] | null;
  settings: Settings;
  /** How many slots a claim may take and how many run; rides borrow slots from it. */
  slotCount: SlotCount;
  /** False while stopping or while leases cannot be renewed. */
  mayClaim(): boolean;
  /**
   * Jobs were claimed (at most `slotCount.claimable` of them): run them. `idle` says
   * nothing ran before, so the claim renewed every lease, as a heartbeat
   * begun at `claimStart` (monotonic) would have.
   */
  claimed(jobs: ClaimedJob[], info: { config: Config; idle: boolean; claimStart: number }): void;
  onError(message: string): void;
}

/** A claim for the free slots that goes with another write; see {@linkcode Producer.rideAlong}. */
export interface RidingClaim {
  params: ClaimParams;
  /** The write committed: hand over what it claimed. */
  claimed(jobs: ClaimedJob[]): void;
  /** The write failed: the slots are free again. */
  failed(): void;
}

/** Claims jobs for free slots; see the module comment. */
export class Producer {
  #options: ProducerOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  /** The last claim filled every free slot, so more jobs may be due. */
  #moreWaiting = false;
  #fill = oneAtATime(() => this.#round());
  /** The ends of riding claims not settled yet. */
  #rides = new Set<Promise<void>>();
  /** Claims sent (a round's or a ride's) whose jobs are not handed over nor their failure seen. */
  #claimsOut = 0;

  constructor(options: ProducerOptions) {
    this.#options = options;
  }

  /** A claim is in progress. */
  get busy(): boolean {
    return this.#fill.busy || this.#rides.size > 0;
  }

  /**
   * A claim may have committed jobs that are not handed to slots yet: a
   * heartbeat's held attempts that no slot runs are then not known to be
   * lost claims (DESIGN.md, "Fencing").
   */
  get claimInFlight(): boolean {
    return this.#claimsOut > 0;
  }

  /**
   * A claim for the free slots to go with another write (the completer's
   * flush of finishes), or `null` when no claim is due: while stopping,
   * while a round claims, when no slot is free, or when the last claim
   * found the queue short (a round reads the next due time instead).
   */
  async rideAlong(): Promise<RidingClaim | null> {
    if (this.#stopped || this.#fill.busy || !this.#moreWaiting) return null;
    const { store, settings, slotCount } = this.#options;
    if (!this.#options.mayClaim() || slotCount.claimable <= 0) return null;
    const idle = slotCount.running === 0;
    const claimStart = performance.now();
    const now = store.now();
    let config: Config;
    try {
      config = await settings.fresh(now);
    } catch {
      return null; // the next round reports it
    }
    const limit = slotCount.claimable;
    if (this.#stopped || this.#fill.busy || limit <= 0 || !this.#options.mayClaim()) return null;
    slotCount.lend(limit);
    let settle!: () => void;
    const ride = new Promise<void>((resolve) => settle = resolve);
    this.#rides.add(ride);
    this.#claimsOut++;
    const end = () => {
      slotCount.giveBack(limit);
      this.#rides.delete(ride);
      settle();
    };
    return {
      params: {
        workerId: this.#options.workerId,
        queues: this.#options.queues,
        limit,
        leaseMs: config.lease_timeout * 1000,
      },
      claimed: (jobs) => {
        end();
        try {
          if (jobs.length > 0) this.#options.claimed(jobs, { config, idle, claimStart });
        } finally {
          this.#claimsOut--;
        }
        this.#moreWaiting = jobs.length === limit;
        // Slots still free, or a short claim (the next due time is to be read): a round.
        if (!this.#moreWaiting || slotCount.claimable > 0) void this.wake();
      },
      failed: () => {
        end();
        this.#claimsOut--;
        void this.wake();
      },
    };
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
    while (this.busy) await Promise.all([this.#fill.busy ? this.#fill() : null, ...this.#rides]);
  }

  #scheduleWake(dueAt: number | null, now: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    const wait = dueAt === null ? IDLE_POLL_MS : Math.min(IDLE_POLL_MS, Math.max(0, dueAt - now));
    this.#timer = setTimeout(() => void this.wake(), wait);
  }

  async #round(): Promise<void> {
    const { store, settings, slotCount } = this.#options;
    try {
      for (;;) {
        if (this.#stopped || !this.#options.mayClaim()) return;
        const free = slotCount.claimable;
        if (free <= 0) return;
        const idle = slotCount.running === 0;
        const claimStart = performance.now();
        const now = store.now();
        const config = await settings.fresh(now);
        // After a full claim more jobs likely wait: claim again at once. Else
        // a cheap read first, so an idle wake-up never takes a write lock
        // (and, on PostgreSQL, a drain does not scan the due index twice a job).
        if (!this.#moreWaiting) {
          // A rate-limited queue whose window is full counts as due when it opens.
          const dueAt = await store.jobNextDueAt({ queues: this.#options.queues, now });
          if (dueAt === null || dueAt > now) {
            this.#scheduleWake(dueAt, now);
            return;
          }
        }
        // Due and the lease by the store's clock, inside the claim.
        this.#claimsOut++;
        try {
          const jobs = await store.jobClaim({
            workerId: this.#options.workerId,
            queues: this.#options.queues,
            limit: free,
            leaseMs: config.lease_timeout * 1000,
          });
          if (jobs.length > 0 && dropClaimAnswers > 0) {
            dropClaimAnswers--;
            throw new Error("the claim's answer was lost (QUEUECTL_TEST_DROP_CLAIM_ANSWERS)");
          }
          if (jobs.length > 0) this.#options.claimed(jobs, { config, idle, claimStart });
          this.#moreWaiting = jobs.length === free;
        } finally {
          this.#claimsOut--;
        }
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
