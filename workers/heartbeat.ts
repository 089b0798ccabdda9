/**
 * Heartbeat and requests: renews the registry entry and every running
 * job's lease, reads stop and cancel requests (on every heartbeat and, at
 * once, on every wake-up), and fences each attempt on its own: an attempt
 * whose lease no renewal has confirmed for too long is ended before the
 * lease can expire for other hosts, and while renewals fail the producer
 * claims nothing. A renewal's reply names the attempts the worker still
 * holds: one it runs that is missing was taken from it (ended at once);
 * one it holds but never got is a claim whose answer was lost (given
 * back). DESIGN.md, "Fencing", has the argument.
 */
import { heartbeatIntervalMs } from "../lib/config.ts";
import { localNow } from "../lib/clock.ts";
import type {
  AttemptRef,
  HeartbeatReply,
  Storage,
  WorkerRequests,
} from "../lib/storage/storage.ts";
import { oneAtATime } from "./one_at_a_time.ts";
import { KILL_GRACE_MS } from "./run_command.ts";
import type { Settings } from "./settings.ts";
import { errorMessage } from "../lib/errors.ts";

/**
 * When a supervisor that cannot renew its leases ends its jobs (fencing):
 * SIGTERM at `lease - grace - margin` after the last renewal began, SIGKILL
 * `grace` later, so every process is gone a `margin` before the lease can
 * expire and another host may take the job. Both scale down for short leases.
 */
export function fencePlan(leaseMs: number): { fenceAfterMs: number; graceMs: number } {
  const graceMs = Math.min(KILL_GRACE_MS, leaseMs * 0.2);
  const marginMs = leaseMs * 0.2;
  return { fenceAfterMs: leaseMs - graceMs - marginMs, graceMs };
}

/** The key of an attempt in maps and sets. */
export function attemptKey(ref: AttemptRef): string {
  return `${ref.attempt} ${ref.id}`;
}

/** An attempt a slot runs, and when it was handed over (`performance.now()`). */
export interface RunningAttempt extends AttemptRef {
  handedAt: number;
}

/** How a heartbeat is set up. */
export interface HeartbeatOptions {
  store: Pick<Storage, "now" | "workerHeartbeat" | "workerRequestsGet">;
  workerId: string;
  settings: Settings;
  /** Gap between heartbeats; default a third of the lease, at most 2 s. */
  intervalMs?: number;
  /** The attempts the slots run now. */
  running(): RunningAttempt[];
  /** Whether the attempt is this supervisor's: running, or its finish not yet written. */
  owns(ref: AttemptRef): boolean;
  /** Whether a claim was sent and its jobs not yet handed to slots (or its failure seen). */
  claimInFlight(): boolean;
  /** Stop and cancel requests read from the store. */
  onRequests(reply: WorkerRequests): void;
  /** A renewal succeeded after failures: claims may resume. */
  onRecovered(): void;
  /** Running attempts no longer this worker's: end them at once, write nothing for them. */
  onLost(attempts: AttemptRef[]): void;
  /** Attempts held under this worker that no slot runs nor ran: give them back. */
  onGhosts(attempts: AttemptRef[]): void;
  /** The registry entry was gone (removed as silent): register again. */
  onUnregistered(): void;
  /** These attempts' leases are about to be lost: end them, with this SIGTERM to SIGKILL. */
  fence(attempts: AttemptRef[], graceMs: number): void;
  /**
   * The earliest lease confirmation among the running attempts (or, with
   * none running, the last renewal's): a call begun at `startedAt`
   * (monotonic) wrote `leaseMs`. The watchdog's deadline counts from it.
   */
  onRenewed?(startedAt: number, leaseMs: number): void;
  onError(message: string): void;
}

/** Leases, requests and fencing of one supervisor. */
export class Heartbeat {
  #options: HeartbeatOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #fenceTimer: ReturnType<typeof setTimeout> | undefined;
  #beating = false;
  #stopped = false;
  /**
   * Per running attempt: when the last renewal that confirmed its lease
   * began (monotonic), and the lease it wrote.
   */
  #renewed = new Map<string, { at: number; leaseMs: number }>();
  /** Running attempts already fenced (each is fenced once). */
  #fenced = new Set<string>();
  #failing = false;
  #checkRequests = oneAtATime(async () => {
    if (this.#stopped) return;
    try {
      this.#options.onRequests(
        await this.#options.store.workerRequestsGet({ id: this.#options.workerId }),
      );
    } catch (error) {
      this.#options.onError(errorMessage(error));
    }
  });

  constructor(options: HeartbeatOptions) {
    this.#options = options;
  }

  /** The last renewal failed (or leases were fenced): claim nothing until one succeeds. */
  get failing(): boolean {
    return this.#failing;
  }

  /** Beats every interval from now on. */
  start(): void {
    const interval = this.#options.intervalMs ??
      heartbeatIntervalMs(this.#options.settings.current);
    this.#timer = setInterval(() => void this.beat(), interval);
  }

  /** No more beats, reads or fencing. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#fenceTimer);
  }

  /**
   * One heartbeat; skipped while one is still out (against an unreachable
   * server a call may hang until the store's timeout).
   */
  async beat(): Promise<void> {
    if (this.#stopped || this.#beating) return;
    this.#beating = true;
    try {
      const config = await this.#options.settings.fresh(this.#options.store.now());
      const leaseMs = config.lease_timeout * 1000;
      const sentAt = performance.now();
      const reply = await this.#options.store.workerHeartbeat({
        id: this.#options.workerId,
        leaseMs,
        clockOffsetMs: localNow() - this.#options.store.now(),
      });
      if (this.#stopped) return;
      this.#judge(reply, sentAt, leaseMs);
      if (this.#failing) {
        this.#failing = false;
        this.#options.onRecovered();
      }
      if (!reply.registered) this.#options.onUnregistered();
      this.#options.onRequests(reply);
    } catch (error) {
      this.#failing = true;
      this.#options.onError(errorMessage(error));
    } finally {
      this.#beating = false;
    }
  }

  /**
   * What a renewal sent at `sentAt` says. An attempt handed to a slot before
   * then was claimed by a statement that committed before the renewal ran,
   * so the reply shows it if the worker still holds it: held, its fence is
   * re-armed; missing, it was taken. An attempt held that this supervisor
   * does not own, while no claim is out, can only come from a claim whose
   * answer was lost.
   */
  #judge(reply: HeartbeatReply, sentAt: number, leaseMs: number): void {
    const held = new Set(reply.held.map(attemptKey));
    const lost: AttemptRef[] = [];
    for (const run of this.#options.running()) {
      if (run.handedAt > sentAt) continue;
      const key = attemptKey(run);
      if (held.has(key)) {
        const before = this.#renewed.get(key);
        if (!before || before.at < sentAt) this.#renewed.set(key, { at: sentAt, leaseMs });
      } else {
        lost.push({ id: run.id, attempt: run.attempt });
      }
    }
    if (lost.length > 0) this.#options.onLost(lost);
    this.#tellRenewed(sentAt, leaseMs, new Set(lost.map(attemptKey)));
    if (!this.#options.claimInFlight()) {
      const ghosts = reply.held.filter((ref) => !this.#options.owns(ref));
      if (ghosts.length > 0) this.#options.onGhosts(ghosts);
    }
    this.#armFence();
  }

  /**
   * Attempts were claimed by a call that began at `startedAt` (monotonic),
   * writing leases of `leaseMs`: their fence counts from then.
   */
  claimed(attempts: AttemptRef[], startedAt: number, leaseMs: number): void {
    if (this.#stopped) return;
    for (const ref of attempts) this.#renewed.set(attemptKey(ref), { at: startedAt, leaseMs });
    this.#tellRenewed(startedAt, leaseMs);
    this.#armFence();
  }

  /**
   * Tells the watchdog the earliest confirmation among the running attempts
   * still held (`at`/`leaseMs` when none is earlier): its deadline never
   * outlives the lease of any of them (DESIGN.md, "Watchdog").
   */
  #tellRenewed(at: number, leaseMs: number, lost: ReadonlySet<string> = new Set()): void {
    for (const run of this.#options.running()) {
      const key = attemptKey(run);
      if (this.#fenced.has(key) || lost.has(key)) continue;
      const last = this.#lastRenewal(run);
      if (last.at < at) ({ at, leaseMs } = last);
    }
    this.#options.onRenewed?.(at, leaseMs);
  }

  /** When `run`'s lease was last confirmed (monotonic) and the lease that wrote. */
  #lastRenewal(run: RunningAttempt): { at: number; leaseMs: number } {
    // Never confirmed (not expected: every claim says so): count from its hand-over.
    return this.#renewed.get(attemptKey(run)) ??
      { at: run.handedAt, leaseMs: this.#options.settings.current.lease_timeout * 1000 };
  }

  /** Sets the fence timer for the earliest attempt due to be fenced; forgets ended ones. */
  #armFence(): void {
    clearTimeout(this.#fenceTimer);
    if (this.#stopped) return;
    const running = this.#options.running();
    const keys = new Set(running.map(attemptKey));
    for (const key of this.#renewed.keys()) if (!keys.has(key)) this.#renewed.delete(key);
    for (const key of this.#fenced) if (!keys.has(key)) this.#fenced.delete(key);
    let next = Infinity;
    for (const run of running) {
      if (this.#fenced.has(attemptKey(run))) continue;
      const { at, leaseMs } = this.#lastRenewal(run);
      next = Math.min(next, at + fencePlan(leaseMs).fenceAfterMs);
    }
    if (next === Infinity) return;
    this.#fenceTimer = setTimeout(() => this.#fence(), Math.max(0, next - performance.now()));
  }

  /**
   * A commit happened somewhere: read cancel and stop requests now, so
   * `cancel` of a running job or `worker stop` through the database (from
   * any host) acts at once rather than at the next heartbeat.
   */
  checkRequests(): void {
    void this.#checkRequests();
  }

  /** Reads a stop request made through the database (by `worker stop`), without renewing. */
  async stopRequested(): Promise<"graceful" | "force" | null> {
    const requests = await this.#options.store.workerRequestsGet({ id: this.#options.workerId });
    return requests.stopRequested;
  }

  /**
   * Fencing: these attempts' leases were not confirmed in time, so another
   * host may soon take them. End them first, with the grace of the lease
   * their last renewal wrote; their attempts are recorded `interrupted`
   * once the store answers again (a guarded write, which does not apply
   * where another worker has already rescued the job).
   */
  #fence(): void {
    if (this.#stopped) return;
    const now = performance.now();
    const due = new Map<number, AttemptRef[]>();
    for (const run of this.#options.running()) {
      const key = attemptKey(run);
      if (this.#fenced.has(key)) continue;
      const { at, leaseMs } = this.#lastRenewal(run);
      const plan = fencePlan(leaseMs);
      if (at + plan.fenceAfterMs > now) continue;
      this.#fenced.add(key);
      due.set(plan.graceMs, [...(due.get(plan.graceMs) ?? []), {
        id: run.id,
        attempt: run.attempt,
      }]);
    }
    for (const [graceMs, attempts] of due) {
      this.#failing = true;
      this.#options.fence(attempts, graceMs);
    }
    this.#armFence();
  }
}
