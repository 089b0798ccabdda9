/**
 * The supervisor: the main-thread side of `worker start`, composing the
 * parts of River's split (DESIGN.md, "Supervisor parts"):
 * - {@linkcode Producer} (`producer.ts`): claims due jobs for free slots;
 * - {@linkcode SlotPool} (`slot_pool.ts`): the Web Workers and their slots;
 * - {@linkcode Completer} (`completer.ts`): batched writes of starts,
 *   output and finishes;
 * - {@linkcode Heartbeat} (`heartbeat.ts`): leases, stop and cancel
 *   requests, fencing, the rescuer;
 * - {@linkcode Maintenance} components (`maintenance.ts`): periodic work
 *   started and stopped with it.
 * It owns every database write of its process's jobs; Web Workers only run
 * commands. What is here is the wiring and the stop sequence.
 */
import type { Config } from "../lib/config.ts";
import type {
  AttemptRef,
  ClaimedJob,
  Storage,
  WorkerRequests,
  WorkerRole,
} from "../lib/storage/storage.ts";
import { localNow } from "../lib/clock.ts";
import { hostId, pidSpace } from "../lib/host_id.ts";
import { Completer } from "./completer.ts";
import type { SupervisorEvent } from "./events.ts";
import { attemptKey, fencePlan, Heartbeat } from "./heartbeat.ts";
import type { Maintenance } from "./maintenance.ts";
import { Producer } from "./producer.ts";
import { hooks } from "./hooks.ts";
import { expiring } from "./expirer.ts";
import { pruning } from "./pruner.ts";
import { webhooks } from "./webhooks.ts";
import { scheduling } from "./scheduler.ts";
import { Rescuer } from "./rescuer.ts";
import { Settings } from "./settings.ts";
import { SlotPool } from "./slot_pool.ts";
import { Watchdog } from "./watchdog.ts";
import { claimHostId } from "./host_guard.ts";
import { processStartTime } from "./process_group.ts";
import { errorMessage } from "../lib/errors.ts";

export { fencePlan };

/** How a supervisor is set up. */
export interface SupervisorOptions {
  /** The supervisor writes through this store (one connection per process). */
  store: Storage;
  /** Jobs run at once (slots), spread over a few Web Workers. */
  count: number;
  /** Queues served; `null` means all. */
  queues: string[] | null;
  /** What hosts this supervisor, as the registry shows it (default "worker"). */
  role?: WorkerRole;
  /** Gap between heartbeats; default a third of the lease, at most 2 s (tests set it long). */
  heartbeatMs?: number;
  /** Web Workers in the pool (default: see `poolSize()`). */
  poolSize?: number;
  /**
   * Periodic components started once the supervisor has registered and
   * stopped before it unregisters (default: the schedule firer and the
   * retention pruner).
   */
  maintenance?: Maintenance[];
  onEvent?: (event: SupervisorEvent) => void;
}

function randomSuffix(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(3)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** A running set of job slots serving the queue; see the module comment. */
export class Supervisor {
  /** This process's id in the workers registry and in jobs' `worker_id`. */
  readonly id: string;
  /** Resolves when the supervisor has stopped and unregistered. */
  readonly done: Promise<void>;
  readonly host: string;

  #options: SupervisorOptions;
  #store: Storage;
  #settings!: Settings;
  #pool!: SlotPool;
  #completer!: Completer;
  #producer!: Producer;
  #heartbeat!: Heartbeat;
  #watchdog!: Watchdog;
  #maintenance: Maintenance[];
  #rescuer: Rescuer;
  #watch: { close(): void } | undefined;
  /** Attempts handed to slots whose finish is not written yet (DESIGN.md, "Fencing"). */
  #owned = new Set<string>();
  #stopping: "graceful" | "force" | null = null;
  #stopped = false;
  #resolveDone!: () => void;

  private constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#maintenance = options.maintenance ??
      [scheduling(), pruning(), expiring(), hooks(), webhooks()];
    this.host = hostId();
    this.id = `${Deno.hostname()}-${Deno.pid}-${randomSuffix()}`;
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#rescuer = new Rescuer({
      store: options.store,
      host: this.host,
      selfId: this.id,
      onEvent: options.onEvent,
    });
  }

  /** Registers, recovers jobs of dead supervisors, starts the Web Workers and begins claiming. */
  static async start(options: SupervisorOptions): Promise<Supervisor> {
    const supervisor = new Supervisor(options);
    await supervisor.#begin();
    return supervisor;
  }

  #emit(event: SupervisorEvent): void {
    this.#options.onEvent?.(event);
    for (const part of this.#maintenance) part.onEvent?.(event);
  }

  #error(message: string): void {
    this.#emit({ type: "supervisor:error", message });
  }

  /** Enters this supervisor in the registry (again, when a rescuer removed it as silent). */
  async #register(): Promise<void> {
    const now = this.#store.now();
    await this.#store.workerRegister({
      id: this.id,
      pid: Deno.pid,
      host: this.host,
      count: this.#options.count,
      queues: this.#options.queues,
      now,
      role: this.#options.role ?? "worker",
      clockOffsetMs: localNow() - now,
      procStart: processStartTime(Deno.pid),
      pidSpace: pidSpace(),
    });
  }

  async #begin(): Promise<void> {
    const store = this.#store;
    this.#settings = await Settings.load(store);
    await this.#register();
    // A live twin elsewhere with this host id: refuse (DESIGN.md, "Watchdog").
    await claimHostId({
      store,
      id: this.id,
      host: this.host,
      now: store.now(),
      leaseMs: this.#settings.current.lease_timeout * 1000,
    });
    await this.#rescuer.runOnce(undefined, this.#settings.current);

    // Ends this process's jobs if it dies or freezes (DESIGN.md, "Watchdog").
    this.#watchdog = new Watchdog({
      workerId: this.id,
      onError: (message) => this.#error(message),
    });
    this.#pool = new SlotPool({
      count: this.#options.count,
      size: this.#options.poolSize,
      onStarted: (slot, m) => {
        slot.pgid = m.pid;
        this.#watchdog.started(m.pid, m.procStart);
        this.#completer.started(m.id, m.attempt, m.pid, m.procStart);
      },
      onOutput: (_slot, m) => this.#completer.output(m.id, m.attempt, m.stdout, m.stderr),
      onFinished: (slot, job, result) => {
        this.#watchdog.ended(slot.pgid);
        this.#completer.finished({
          slot: slot.index,
          job,
          maxRetries: slot.maxRetries,
          startedAt: slot.startedAt,
          result,
          config: this.#settings.current,
        });
        // A write is out (a round trip away on PostgreSQL): refill the slot now, not after it.
        if (!this.#pool.slotCount.freedSlotsRide) this.wake();
      },
      onError: (message) => this.#error(message),
    });
    // One count of free slots: the pool, the completer and the producer tell it their part.
    const slotCount = this.#pool.slotCount;
    this.#completer = new Completer({
      store,
      workerId: this.id,
      host: this.host,
      onEvent: (event) => {
        // Written (or refused): the attempt is no longer ours to hold.
        if (event.type === "job:end") this.#owned.delete(attemptKey(event));
        this.#emit(event);
      },
      slotCount,
      ride: () => this.#producer.rideAlong(),
      onFinishesWritten: () => this.#stopping ? this.#maybeFinish() : void this.wake(),
    });
    this.#heartbeat = new Heartbeat({
      store,
      workerId: this.id,
      settings: this.#settings,
      intervalMs: this.#options.heartbeatMs,
      running: () =>
        this.#pool.busy().map((s) => ({
          id: s.job!.id,
          attempt: s.job!.attempt,
          handedAt: s.handedAt,
        })),
      owns: (ref) => this.#owned.has(attemptKey(ref)),
      claimInFlight: () => this.#producer.claimInFlight,
      onRequests: (reply) => this.#actOnRequests(reply),
      onRecovered: () => this.wake(),
      onLost: (attempts) => this.#lost(attempts),
      onGhosts: (attempts) => void this.#giveBack(attempts),
      onUnregistered: () => void this.#register().catch((e) => this.#error(errorMessage(e))),
      fence: (attempts, graceMs) => this.#fence(attempts, graceMs),
      onRenewed: (startedAt, leaseMs) => this.#watchdog.renewed(startedAt, leaseMs),
      onError: (message) => this.#error(message),
    });
    this.#producer = new Producer({
      store,
      workerId: this.id,
      queues: this.#options.queues,
      settings: this.#settings,
      slotCount,
      mayClaim: () => !this.#stopping && !this.#heartbeat.failing,
      claimed: (jobs, info) => this.#claimed(jobs, info),
      onError: (message) => this.#error(message),
    });

    this.#emit({
      type: "supervisor:start",
      id: this.id,
      count: this.#options.count,
      queues: this.#options.queues,
    });
    this.#watch = store.watchChanges(() => {
      // A settings change is a commit too: re-read them now, so every
      // attempt that ends after `config set` committed uses the new values.
      this.#settings.refresh();
      this.wake();
      this.#heartbeat.checkRequests();
      for (const part of this.#maintenance) part.wake?.();
    });
    this.#heartbeat.start();
    this.#rescuer.start(() => this.#settings.current, this.#options.heartbeatMs);
    const context = {
      store,
      workerId: this.id,
      host: this.host,
      config: () => this.#settings.current,
      emit: (event: SupervisorEvent) => this.#emit(event),
    };
    for (const part of this.#maintenance) part.start(context);
    this.wake();
  }

  /** Number of jobs running now. */
  get running(): number {
    return this.#pool.running;
  }

  /** Web Workers in the pool. */
  get poolSize(): number {
    return this.#pool.size;
  }

  /** A job may be due: look at the queue now. */
  wake(): void {
    if (this.#stopping) return;
    void this.#producer.wake();
  }

  /** The producer claimed `jobs`: hand each to a free slot. */
  #claimed(jobs: ClaimedJob[], info: { config: Config; idle: boolean; claimStart: number }): void {
    const { config } = info;
    const free = this.#pool.free();
    const fenceGraceMs = fencePlan(config.lease_timeout * 1000).graceMs;
    jobs.forEach((job, i) => {
      const slot = free[i]!;
      const maxRetries = job.max_retries ?? config.max_retries;
      const timeout = job.timeout ?? config.job_timeout;
      this.#pool.run(slot, job, {
        id: job.id,
        attempt: job.attempt,
        command: job.command,
        cwd: job.cwd,
        env: job.env,
        timeoutMs: Math.round(timeout * 1000),
        outputLimit: config.output_limit,
        fenceGraceMs,
        workerId: this.id,
      }, maxRetries);
      this.#emit({
        type: "job:start",
        slot: slot.index,
        id: job.id,
        attempt: job.attempt,
        maxAttempts: maxRetries + 1,
      });
      this.#owned.add(attemptKey(job));
      // Claimed while a forced stop began: it goes back as pending at once.
      if (this.#stopping === "force") this.#pool.kill(slot, "force");
    });
    // Their leases date from this claim's start: so does their fence.
    this.#heartbeat.claimed(jobs, info.claimStart, config.lease_timeout * 1000);
  }

  /** Fencing: ends these attempts before their leases can expire. */
  #fence(attempts: AttemptRef[], graceMs: number): void {
    const slots = attempts.map((ref) => this.#slotOf(ref)).filter((s) => s !== undefined);
    if (slots.length === 0) return;
    this.#error(
      `cannot renew the leases of ${slots.length} running job(s): stopping them ` +
        "before another worker may take them",
    );
    for (const slot of slots) this.#pool.kill(slot, "fence", graceMs);
  }

  /** A renewal showed these running attempts are no longer ours: end them at once. */
  #lost(attempts: AttemptRef[]): void {
    for (const ref of attempts) {
      const slot = this.#slotOf(ref);
      if (!slot) continue;
      this.#error(
        `job ${ref.id} attempt ${ref.attempt} is no longer this worker's ` +
          "(rescued, cancelled or removed): ending it, its result is not written",
      );
      this.#pool.kill(slot, "lost");
    }
  }

  /**
   * Attempts held under this worker that it never ran (a claim whose answer
   * was lost): back to pending, the attempt not counted, by a write guarded
   * on the attempt still being ours and `processing`.
   */
  async #giveBack(attempts: AttemptRef[]): Promise<void> {
    const now = this.#store.now();
    try {
      const given = await this.#store.runFinishMany({
        finishes: attempts.map((ref) => ({
          id: ref.id,
          workerId: this.id,
          attempt: ref.attempt,
          outcome: "interrupted",
          exitCode: null,
          signal: null,
          error: "interrupted: the claim's answer was lost; given back unrun",
          finishedAt: now,
          stdout: null,
          stderr: null,
          state: "pending",
          nextRunAt: now,
          uncountAttempt: true,
        })),
      });
      if (given.length > 0) {
        this.#error(`gave back ${given.length} job(s) claimed but never received: ${given}`);
        this.wake();
      }
    } catch (error) {
      this.#error(errorMessage(error)); // the next heartbeat finds them again
    }
  }

  #slotOf(ref: AttemptRef) {
    const slot = this.#pool.find(ref.id);
    return slot?.job?.attempt === ref.attempt ? slot : undefined;
  }

  #actOnRequests(reply: WorkerRequests): void {
    for (const id of reply.cancelRequested) {
      const slot = this.#pool.find(id);
      if (slot) this.#pool.kill(slot, "cancel");
    }
    if (reply.stopRequested) void this.stop(reply.stopRequested);
  }

  /** Reads a stop request made through the database (by `worker stop`). */
  stopRequested(): Promise<"graceful" | "force" | null> {
    return this.#heartbeat.stopRequested();
  }

  /**
   * Stops claiming. "graceful" lets running jobs finish; "force" ends them
   * at once and puts them back as pending without counting the attempt.
   * Resolves when every worker has ended and the registry entry is gone.
   */
  stop(mode: "graceful" | "force"): Promise<void> {
    if (this.#stopped || this.#stopping === "force" || this.#stopping === mode) return this.done;
    this.#stopping = mode;
    this.#emit({ type: "supervisor:stopping", mode, running: this.running });
    if (mode === "force") {
      for (const slot of this.#pool.busy()) this.#pool.kill(slot, "force");
    }
    // A claim in progress hands its jobs over first (a forced stop kills them).
    void this.#producer.stop().then(() => this.#maybeFinish());
    return this.done;
  }

  #maybeFinish(): void {
    if (this.#stopped || !this.#stopping || this.running > 0 || this.#producer.busy) return;
    this.#stopped = true;
    void this.#shutdown();
  }

  async #shutdown(): Promise<void> {
    this.#heartbeat.stop();
    await this.#rescuer.stop();
    this.#settings.close();
    this.#watch?.close();
    this.#pool.terminate();
    for (const part of this.#maintenance) {
      try {
        await part.stop();
      } catch (error) {
        this.#error(`${part.name}: ${errorMessage(error)}`);
      }
    }
    await this.#completer.close();
    await this.#watchdog.close();
    try {
      await this.#store.workerRemove({ id: this.id });
    } catch (error) {
      this.#error(errorMessage(error));
    }
    this.#emit({ type: "supervisor:stop", id: this.id });
    this.#resolveDone();
  }
}
