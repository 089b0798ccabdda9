/**
 * The supervisor: the main-thread side of `worker start`. It owns every
 * database write for its Web Workers: it claims jobs for free slots in one
 * statement (the producer), hands each to a job worker, writes starts and
 * results in batches (the completer), renews leases with a heartbeat, and
 * runs the rescuer. Web Workers only run commands.
 */
import { type Config, heartbeatIntervalMs } from "../lib/config.ts";
import type { RunOutcome } from "../lib/job.ts";
import type {
  ClaimedJob,
  HeartbeatReply,
  RunFinish,
  RunOutputUpdate,
  RunStart,
  Storage,
  WorkerRole,
} from "../lib/storage/storage.ts";
import { decideAfterForcedStop, decideAfterRun } from "../lib/state.ts";
import type { SupervisorEvent } from "./events.ts";
import type { CommandResult, FromJobWorker, ToJobWorker } from "./messages.ts";
import { describeOutcome, toRunOutcome } from "./outcome.ts";
import { Rescuer } from "./rescuer.ts";
import { Scheduler } from "./scheduler.ts";
import { KILL_GRACE_MS } from "./run_command.ts";
import { localNow } from "../lib/clock.ts";
import { hostId } from "../lib/host_id.ts";

/** How a supervisor is set up. */
export interface SupervisorOptions {
  /** The supervisor writes through this store (one connection per process). */
  store: Storage;
  /** Jobs run at once: one Web Worker each. */
  count: number;
  /** Queues served; `null` means all. */
  queues: string[] | null;
  /** What hosts this supervisor, as the registry shows it (default "worker"). */
  role?: WorkerRole;
  /** Gap between heartbeats; default a third of the lease, at most 2 s (tests set it long). */
  heartbeatMs?: number;
  onEvent?: (event: SupervisorEvent) => void;
}

/** Slowest wait between looks at the queue when the watch stays silent. */
const IDLE_POLL_MS = 1000;
/** How old the cached settings may get. */
const CONFIG_TTL_MS = 1000;

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

interface Slot {
  index: number;
  worker: Worker;
  job: ClaimedJob | null;
  maxRetries: number;
  startedAt: number;
  killSent: boolean;
}

function randomSuffix(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(3)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** A running set of Web Workers serving the queue; see the module comment. */
export class Supervisor {
  /** This process's id in the workers registry and in jobs' `worker_id`. */
  readonly id: string;
  /** Resolves when the supervisor has stopped and unregistered. */
  readonly done: Promise<void>;
  readonly host: string;

  #options: SupervisorOptions;
  #store: Storage;
  #slots: Slot[] = [];
  #config!: Config;
  #configAt = 0;
  #configReading = false;
  #configReadAgain = false;
  #stopping: "graceful" | "force" | null = null;
  #stopped = false;
  #resolveDone!: () => void;
  #filling = false;
  #fillAgain = false;
  #wakeTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #watch: { close(): void } | undefined;
  #rescuer: Rescuer;
  #scheduler: Scheduler;
  #starts: RunStart[] = [];
  #outputs = new Map<string, RunOutputUpdate>();
  #finishes: { finish: RunFinish; event: Extract<SupervisorEvent, { type: "job:end" }> }[] = [];
  #writing: Promise<void> = Promise.resolve();
  #checkingRequests = false;
  #checkRequestsAgain = false;
  #flushQueued = false;
  #heartbeating = false;
  /** The last claim filled every free slot, so more jobs may be due. */
  #moreWaiting = false;
  /** Local monotonic time when the last renewal of every running job's lease began. */
  #renewedAt = 0;
  /** The last heartbeat failed: claim nothing until one succeeds. */
  #renewFailing = false;
  #fenceTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#store = options.store;
    this.host = hostId();
    this.id = `${Deno.hostname()}-${Deno.pid}-${randomSuffix()}`;
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#rescuer = new Rescuer({
      store: options.store,
      host: this.host,
      selfId: this.id,
      onEvent: options.onEvent,
    });
    this.#scheduler = new Scheduler({ store: options.store, onEvent: options.onEvent });
  }

  /** Registers, recovers jobs of dead supervisors, starts the Web Workers and begins claiming. */
  static async start(options: SupervisorOptions): Promise<Supervisor> {
    const supervisor = new Supervisor(options);
    await supervisor.#begin();
    return supervisor;
  }

  #emit(event: SupervisorEvent): void {
    this.#options.onEvent?.(event);
  }

  async #begin(): Promise<void> {
    const now = this.#store.now();
    this.#config = await this.#store.configGetAll();
    this.#configAt = now;
    await this.#store.workerRegister({
      id: this.id,
      pid: Deno.pid,
      host: this.host,
      count: this.#options.count,
      queues: this.#options.queues,
      now,
      role: this.#options.role ?? "worker",
      clockOffsetMs: localNow() - now,
    });
    await this.#rescuer.runOnce(now, this.#config);
    const url = new URL("./job_worker.ts", import.meta.url).href;
    for (let i = 0; i < this.#options.count; i++) {
      const worker = new Worker(url, { type: "module", name: `worker-${i + 1}` });
      const slot: Slot = {
        index: i + 1,
        worker,
        job: null,
        maxRetries: 0,
        startedAt: 0,
        killSent: false,
      };
      worker.onmessage = (event: MessageEvent<FromJobWorker>) => this.#onMessage(slot, event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        this.#emit({ type: "supervisor:error", message: `worker-${slot.index}: ${event.message}` });
      };
      this.#slots.push(slot);
    }
    this.#emit({
      type: "supervisor:start",
      id: this.id,
      count: this.#options.count,
      queues: this.#options.queues,
    });
    this.#watch = this.#store.watchChanges(() => {
      // A settings change is a commit too: re-read them now, so every
      // attempt that ends after `config set` committed uses the new values.
      void this.#refreshConfig();
      this.wake();
      void this.#checkRequests();
    });
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(), this.#heartbeatMs());
    this.wake();
    this.#scheduler.start();
  }

  #heartbeatMs(): number {
    return this.#options.heartbeatMs ?? heartbeatIntervalMs(this.#config);
  }

  /** Number of jobs running now. */
  get running(): number {
    return this.#slots.filter((s) => s.job !== null).length;
  }

  /** A job may be due: look at the queue now. */
  wake(): void {
    if (this.#stopping) return;
    void this.#fill();
  }

  /**
   * Reads the settings now: one read at a time, and one more if a commit
   * came during it (that read may have begun before the change).
   */
  async #refreshConfig(): Promise<void> {
    if (this.#configReading) {
      this.#configReadAgain = true;
      return;
    }
    this.#configReading = true;
    try {
      do {
        this.#configReadAgain = false;
        const now = this.#store.now();
        this.#config = await this.#store.configGetAll();
        this.#configAt = now;
      } while (this.#configReadAgain && !this.#stopped);
    } catch {
      /* the heartbeat's read reports it */
    } finally {
      this.#configReading = false;
    }
  }

  async #currentConfig(now: number): Promise<Config> {
    if (now - this.#configAt >= CONFIG_TTL_MS) {
      this.#config = await this.#store.configGetAll();
      this.#configAt = now;
    }
    return this.#config;
  }

  #scheduleWake(dueAt: number | null, now: number): void {
    clearTimeout(this.#wakeTimer);
    const wait = dueAt === null ? IDLE_POLL_MS : Math.min(IDLE_POLL_MS, Math.max(0, dueAt - now));
    this.#wakeTimer = setTimeout(() => this.wake(), wait);
  }

  /** The producer: claims due jobs for every free slot, in one statement per round. */
  async #fill(): Promise<void> {
    if (this.#filling) {
      this.#fillAgain = true;
      return;
    }
    this.#filling = true;
    try {
      do {
        this.#fillAgain = false;
        if (this.#stopping || this.#renewFailing) return;
        const free = this.#slots.filter((s) => s.job === null);
        if (free.length === 0) return;
        const idle = this.running === 0;
        const claimStart = performance.now();
        const now = this.#store.now();
        const config = await this.#currentConfig(now);
        // After a full claim more jobs likely wait: claim again at once. Else
        // a cheap read first, so an idle wake-up never takes a write lock
        // (and, on PostgreSQL, a drain does not scan the due index twice a job).
        if (!this.#moreWaiting) {
          const dueAt = await this.#store.jobNextDueAt({ queues: this.#options.queues });
          if (dueAt === null || dueAt > now) {
            this.#scheduleWake(dueAt, now);
            continue;
          }
        }
        const jobs = await this.#store.jobClaim({
          workerId: this.id,
          queues: this.#options.queues,
          limit: free.length,
          now,
          leaseMs: config.lease_timeout * 1000,
        });
        // With nothing running before, every lease now dates from this claim.
        if (idle && jobs.length > 0) this.#renewed(claimStart, config);
        jobs.forEach((job, i) => this.#dispatch(free[i]!, job, config));
        this.#moreWaiting = jobs.length === free.length;
        if (this.#moreWaiting) this.#fillAgain = true;
        else this.#scheduleWake(null, now);
      } while (this.#fillAgain);
    } catch (error) {
      this.#emit({ type: "supervisor:error", message: errorMessage(error) });
      this.#scheduleWake(null, Date.now());
    } finally {
      this.#filling = false;
    }
  }

  #dispatch(slot: Slot, job: ClaimedJob, config: Config): void {
    slot.job = job;
    slot.killSent = false;
    slot.startedAt = Date.now();
    slot.maxRetries = job.max_retries ?? config.max_retries;
    const timeout = job.timeout ?? config.job_timeout;
    this.#post(slot, {
      type: "run",
      request: {
        id: job.id,
        attempt: job.attempt,
        command: job.command,
        cwd: job.cwd,
        env: job.env,
        timeoutMs: Math.round(timeout * 1000),
        outputLimit: config.output_limit,
        fenceGraceMs: fencePlan(config.lease_timeout * 1000).graceMs,
      },
    });
    this.#emit({
      type: "job:start",
      slot: slot.index,
      id: job.id,
      attempt: job.attempt,
      maxAttempts: slot.maxRetries + 1,
    });
  }

  #post(slot: Slot, message: ToJobWorker): void {
    slot.worker.postMessage(message);
  }

  #onMessage(slot: Slot, message: FromJobWorker): void {
    switch (message.type) {
      case "started":
        this.#starts.push({
          id: message.id,
          workerId: this.id,
          attempt: message.attempt,
          host: this.host,
          pgid: message.pid,
          procStart: message.procStart,
        });
        this.#queueFlush();
        break;
      case "output":
        this.#outputs.set(message.id, {
          id: message.id,
          attempt: message.attempt,
          stdout: message.stdout,
          stderr: message.stderr,
        });
        this.#queueFlush();
        break;
      case "finished":
        this.#onFinished(slot, message.result);
        break;
      default: {
        const never: never = message;
        throw new Error(`Unknown message ${JSON.stringify(never)}`);
      }
    }
  }

  /** The completer's input: turns a result into the job's next state. */
  #onFinished(slot: Slot, result: CommandResult): void {
    const job = slot.job;
    if (!job) return;
    slot.job = null;
    const config = this.#config;
    // The Web Worker stamps the local clock; the store judges by its own.
    const finishedAt = result.finishedAt + (this.#store.now() - Date.now());
    const forced = result.outcome.kind === "killed" && result.outcome.reason === "force";
    const outcome: RunOutcome = toRunOutcome(result.outcome);
    const decision = forced ? decideAfterForcedStop(finishedAt) : {
      ...decideAfterRun({
        outcome,
        attempt: job.attempt,
        maxRetries: slot.maxRetries,
        now: finishedAt,
        backoff: { base: config.backoff_base, max: config.backoff_max },
        retryOn: job.retry_on,
        exitCode: result.exitCode,
      }),
      uncountAttempt: false,
    };
    const described = describeOutcome(result.outcome);
    const notRetried = "notRetried" in decision ? decision.notRetried : undefined;
    const error = notRetried ? `${described}; ${notRetried}` : described;
    this.#outputs.delete(job.id);
    this.#finishes.push({
      finish: {
        id: job.id,
        workerId: this.id,
        attempt: job.attempt,
        outcome,
        exitCode: result.exitCode,
        signal: result.signal,
        error,
        finishedAt,
        stdout: result.stdout,
        stderr: result.stderr,
        state: decision.state,
        nextRunAt: decision.next_run_at,
        uncountAttempt: decision.uncountAttempt,
      },
      event: {
        type: "job:end",
        slot: slot.index,
        id: job.id,
        attempt: job.attempt,
        maxAttempts: slot.maxRetries + 1,
        outcome,
        error,
        state: decision.state,
        durationMs: result.finishedAt - slot.startedAt,
        retryInS: decision.next_run_at === null || decision.state !== "failed"
          ? null
          : (decision.next_run_at - finishedAt) / 1000,
        applied: true,
      },
    });
    this.#queueFlush();
  }

  /** Writes what piled up since the last flush, in order, one flush at a time. */
  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    this.#writing = this.#writing.then(() => this.#flush());
  }

  async #flush(): Promise<void> {
    this.#flushQueued = false;
    const starts = this.#starts.splice(0);
    const outputs = [...this.#outputs.values()];
    this.#outputs.clear();
    const finishes = this.#finishes.splice(0);
    try {
      const applied = new Set(
        await this.#store.runRecordMany({
          starts,
          outputs,
          finishes: finishes.map((f) => f.finish),
        }),
      );
      for (const { event } of finishes) this.#emit({ ...event, applied: applied.has(event.id) });
    } catch (error) {
      // Keep the results and try again: the job stays leased to us meanwhile.
      this.#emit({ type: "supervisor:error", message: errorMessage(error) });
      this.#starts.unshift(...starts);
      this.#finishes.unshift(...finishes);
      setTimeout(() => this.#queueFlush(), 500);
      return;
    }
    if (finishes.length > 0) {
      if (this.#stopping) this.#maybeFinish();
      else void this.#fill();
    }
  }

  /**
   * Renews leases and the registry entry; acts on stop and cancel requests;
   * rescues. One at a time: against an unreachable server a call may hang
   * until the store's timeout.
   */
  async #heartbeat(): Promise<void> {
    if (this.#stopped || this.#heartbeating) return;
    this.#heartbeating = true;
    try {
      const started = performance.now();
      const now = this.#store.now();
      const config = await this.#currentConfig(now);
      const reply = await this.#store.workerHeartbeat({
        id: this.id,
        now,
        leaseMs: config.lease_timeout * 1000,
        clockOffsetMs: localNow() - now,
      });
      this.#renewed(started, config);
      if (this.#renewFailing) {
        this.#renewFailing = false;
        this.wake();
      }
      this.#actOnRequests(reply);
      await this.#rescuer.runOnce(now, config);
    } catch (error) {
      this.#renewFailing = true;
      this.#emit({ type: "supervisor:error", message: errorMessage(error) });
    } finally {
      this.#heartbeating = false;
    }
  }

  /** Every running job's lease was renewed by a call that began at `startedAt` (monotonic). */
  #renewed(startedAt: number, config: Config): void {
    this.#renewedAt = Math.max(this.#renewedAt, startedAt);
    const { fenceAfterMs } = fencePlan(config.lease_timeout * 1000);
    clearTimeout(this.#fenceTimer);
    this.#fenceTimer = setTimeout(
      () => this.#fence(),
      Math.max(0, this.#renewedAt + fenceAfterMs - performance.now()),
    );
  }

  /**
   * Fencing: the leases were not renewed in time, so another host may soon
   * take these jobs. End them first; their attempts are recorded
   * `interrupted` once the store answers again (a guarded write, which does
   * not apply where another worker has already rescued the job).
   */
  #fence(): void {
    if (this.#stopped) return;
    const running = this.#slots.filter((s) => s.job !== null && !s.killSent);
    if (running.length === 0) return;
    this.#renewFailing = true;
    this.#emit({
      type: "supervisor:error",
      message: `cannot renew the leases of ${running.length} running job(s): stopping them ` +
        "before another worker may take them",
    });
    for (const slot of running) {
      slot.killSent = true;
      this.#post(slot, { type: "kill", id: slot.job!.id, reason: "fence" });
    }
  }

  /**
   * Reads cancel and stop requests when some process committed (the
   * store's wake-up), so `cancel` of a running job or `worker stop` through
   * the database (from any host) acts at once rather than at the next
   * heartbeat. One read at a time, and one more if commits came meanwhile.
   */
  async #checkRequests(): Promise<void> {
    if (this.#stopped) return;
    if (this.#checkingRequests) {
      this.#checkRequestsAgain = true;
      return;
    }
    this.#checkingRequests = true;
    try {
      do {
        this.#checkRequestsAgain = false;
        this.#actOnRequests(await this.#store.workerRequestsGet({ id: this.id }));
      } while (this.#checkRequestsAgain && !this.#stopped);
    } catch (error) {
      this.#emit({ type: "supervisor:error", message: errorMessage(error) });
    } finally {
      this.#checkingRequests = false;
    }
  }

  #actOnRequests(reply: HeartbeatReply): void {
    for (const id of reply.cancelRequested) {
      const slot = this.#slots.find((s) => s.job?.id === id);
      if (slot && !slot.killSent) {
        slot.killSent = true;
        this.#post(slot, { type: "kill", id, reason: "cancel" });
      }
    }
    if (reply.stopRequested) void this.stop(reply.stopRequested);
  }

  /** Reads a stop request made through the database (by `worker stop`). */
  async stopRequested(): Promise<"graceful" | "force" | null> {
    const reply = await this.#store.workerHeartbeat({
      id: this.id,
      now: this.#store.now(),
      leaseMs: this.#config.lease_timeout * 1000,
    });
    return reply.stopRequested;
  }

  /**
   * Stops claiming. "graceful" lets running jobs finish; "force" ends them
   * at once and puts them back as pending without counting the attempt.
   * Resolves when every worker has ended and the registry entry is gone.
   */
  stop(mode: "graceful" | "force"): Promise<void> {
    if (this.#stopped || this.#stopping === "force" || this.#stopping === mode) return this.done;
    this.#stopping = mode;
    void this.#scheduler.stop();
    clearTimeout(this.#wakeTimer);
    this.#emit({ type: "supervisor:stopping", mode, running: this.running });
    if (mode === "force") {
      for (const slot of this.#slots) {
        if (slot.job) this.#post(slot, { type: "kill", id: slot.job.id, reason: "force" });
      }
    }
    this.#maybeFinish();
    return this.done;
  }

  #maybeFinish(): void {
    if (this.#stopped || !this.#stopping || this.running > 0) return;
    this.#stopped = true;
    void this.#shutdown();
  }

  async #shutdown(): Promise<void> {
    clearTimeout(this.#wakeTimer);
    clearTimeout(this.#fenceTimer);
    clearInterval(this.#heartbeatTimer);
    this.#watch?.close();
    for (const slot of this.#slots) slot.worker.terminate();
    await this.#scheduler.stop();
    await this.#writing;
    try {
      await this.#store.workerRemove({ id: this.id });
    } catch (error) {
      this.#emit({ type: "supervisor:error", message: errorMessage(error) });
    }
    this.#emit({ type: "supervisor:stop", id: this.id });
    this.#resolveDone();
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
