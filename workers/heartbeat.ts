/**
 * Heartbeat and requests: renews the registry entry and every running
 * job's lease, reads stop and cancel requests (on every heartbeat and, at
 * once, on every wake-up), runs the rescuer after each renewal, and fences:
 * when no renewal has succeeded for too long, it has the running jobs
 * ended before their leases can expire for other hosts, and tells the
 * producer to claim nothing until a renewal succeeds again.
 */
import { type Config, heartbeatIntervalMs } from "../lib/config.ts";
import { localNow } from "../lib/clock.ts";
import type { HeartbeatReply, Storage } from "../lib/storage/storage.ts";
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

/** How a heartbeat is set up. */
export interface HeartbeatOptions {
  store: Pick<Storage, "now" | "workerHeartbeat" | "workerRequestsGet">;
  workerId: string;
  settings: Settings;
  /** Gap between heartbeats; default a third of the lease, at most 2 s. */
  intervalMs?: number;
  /** Runs after every successful renewal (the rescuer). */
  afterRenewal?: (now: number, config: Config) => Promise<unknown>;
  /** Stop and cancel requests read from the store. */
  onRequests(reply: HeartbeatReply): void;
  /** A renewal succeeded after failures: claims may resume. */
  onRecovered(): void;
  /** Every running job's lease was renewed by a call begun at `startedAt` (the watchdog's deadline). */
  onRenewed?(startedAt: number, config: Config): void;
  /** The leases are about to be lost: end the running jobs; returns how many were asked to end. */
  fence(): number;
  onError(message: string): void;
}

/** Leases, requests and fencing of one supervisor. */
export class Heartbeat {
  #options: HeartbeatOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #fenceTimer: ReturnType<typeof setTimeout> | undefined;
  #beating = false;
  #stopped = false;
  /** Local monotonic time when the last renewal of every running job's lease began. */
  #renewedAt = 0;
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

  /** The last renewal failed (or the leases were fenced): claim nothing until one succeeds. */
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
      const started = performance.now();
      const now = this.#options.store.now();
      const config = await this.#options.settings.fresh(now);
      const reply = await this.#options.store.workerHeartbeat({
        id: this.#options.workerId,
        now,
        leaseMs: config.lease_timeout * 1000,
        clockOffsetMs: localNow() - now,
      });
      this.renewed(started, config);
      if (this.#failing) {
        this.#failing = false;
        this.#options.onRecovered();
      }
      this.#options.onRequests(reply);
      await this.#options.afterRenewal?.(now, config);
    } catch (error) {
      this.#failing = true;
      this.#options.onError(errorMessage(error));
    } finally {
      this.#beating = false;
    }
  }

  /**
   * Every running job's lease was renewed by a call that began at
   * `startedAt` (monotonic): a heartbeat, or a claim made while nothing ran.
   * Re-arms the fence.
   */
  renewed(startedAt: number, config: Config): void {
    if (this.#stopped) return;
    this.#renewedAt = Math.max(this.#renewedAt, startedAt);
    this.#options.onRenewed?.(this.#renewedAt, config);
    const { fenceAfterMs } = fencePlan(config.lease_timeout * 1000);
    clearTimeout(this.#fenceTimer);
    this.#fenceTimer = setTimeout(
      () => this.#fence(),
      Math.max(0, this.#renewedAt + fenceAfterMs - performance.now()),
    );
  }

  /**
   * A commit happened somewhere: read cancel and stop requests now, so
   * `cancel` of a running job or `worker stop` through the database (from
   * any host) acts at once rather than at the next heartbeat.
   */
  checkRequests(): void {
    void this.#checkRequests();
  }

  /** Reads a stop request made through the database (by `worker stop`), renewing as it does. */
  async stopRequested(): Promise<"graceful" | "force" | null> {
    const reply = await this.#options.store.workerHeartbeat({
      id: this.#options.workerId,
      now: this.#options.store.now(),
      leaseMs: this.#options.settings.current.lease_timeout * 1000,
    });
    return reply.stopRequested;
  }

  /**
   * Fencing: the leases were not renewed in time, so another host may soon
   * take these jobs. End them first; their attempts are recorded
   * `interrupted` once the store answers again (a guarded write, which does
   * not apply where another worker has already rescued the job).
   */
  #fence(): void {
    if (this.#stopped) return;
    if (this.#options.fence() > 0) this.#failing = true;
  }
}
