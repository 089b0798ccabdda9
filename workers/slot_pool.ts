/**
 * The slot pool: `--count N` slots (what runs at once, numbered 1..N as
 * the log shows them, `worker-3`) over a few Web Workers, each running the
 * child processes of several slots concurrently. An isolate costs ~8 MB,
 * a running job almost nothing in the supervisor, so memory grows with
 * jobs, not isolates (DESIGN.md, "Worker pool").
 */
import type { ClaimedJob } from "../lib/storage/storage.ts";
import type {
  CommandResult,
  FromJobWorker,
  KillReason,
  RunRequest,
  ToJobWorker,
} from "./messages.ts";
import { SlotCount } from "./slot_count.ts";

/**
 * The most slots one Web Worker runs. Each running job may hold threads of
 * its isolate's blocking pool (~32 threads: a runner reading pipes as files
 * and waiting by FFI holds 3), so an isolate must not take more than that
 * pool can serve beside its own file reads.
 */
export const SLOTS_PER_WEB_WORKER = 8;

/**
 * Web Workers for `count` slots: as few as can serve them, one per
 * {@linkcode SLOTS_PER_WEB_WORKER} slots. Fewer isolates cost less than they
 * spread: measured on 2 cores draining `true` jobs at `--count 4`, one Web
 * Worker used ~0.4 ms less CPU per job than one per core (each isolate
 * wakes its own event loop and its own poll() thread for every job).
 */
export function poolSize(count: number): number {
  return Math.max(1, Math.ceil(count / SLOTS_PER_WEB_WORKER));
}

/** One place for a running job; its fields describe the job while `job` is set. */
export interface Slot {
  /** 1-based, as the foreground log names it (`worker-3`). */
  readonly index: number;
  /** Which Web Worker of the pool runs this slot's jobs (0-based). */
  readonly webWorker: number;
  job: ClaimedJob | null;
  maxRetries: number;
  /** Local wall clock when the job was handed over. */
  startedAt: number;
  /** Monotonic (`performance.now()`) when the job was handed over. */
  handedAt: number;
  /** The kills sent for this job, each once (a forced stop is sent regardless). */
  killsSent: Set<KillReason>;
  /** The job's process group once its start was reported (the supervisor sets it). */
  pgid: number | null;
}

/** What the pool reports; each call names the slot the message is about. */
export interface SlotPoolOptions {
  count: number;
  /** Web Workers to start (default {@linkcode poolSize}). */
  size?: number;
  onStarted(slot: Slot, message: Extract<FromJobWorker, { type: "started" }>): void;
  onOutput(slot: Slot, message: Extract<FromJobWorker, { type: "output" }>): void;
  /** The slot is free again; `job` is what ran (the slot's other fields still describe it). */
  onFinished(slot: Slot, job: ClaimedJob, result: CommandResult): void;
  onError(message: string): void;
}

/** The Web Workers and which of their slots are busy. */
export class SlotPool {
  readonly slots: readonly Slot[];
  readonly size: number;
  /** How many slots a claim may take: kept up to date as slots take and end jobs. */
  readonly slotCount: SlotCount;
  #workers: Worker[] = [];
  #options: SlotPoolOptions;

  constructor(options: SlotPoolOptions) {
    this.#options = options;
    this.size = options.size ?? poolSize(options.count);
    this.slotCount = new SlotCount(options.count);
    const url = new URL("./job_worker.ts", import.meta.url).href;
    const slots: Slot[] = [];
    for (let i = 0; i < options.count; i++) {
      slots.push({
        index: i + 1,
        webWorker: i % this.size,
        job: null,
        maxRetries: 0,
        startedAt: 0,
        handedAt: 0,
        killsSent: new Set(),
        pgid: null,
      });
    }
    this.slots = slots;
    for (let w = 0; w < this.size; w++) {
      const worker = new Worker(url, { type: "module", name: `pool-${w + 1}` });
      // A job worker posts what it has in one turn as one batch, in order.
      worker.onmessage = (event: MessageEvent<FromJobWorker[]>) => {
        for (const message of event.data) this.#onMessage(w, message);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        options.onError(`pool-${w + 1}: ${event.message}`);
      };
      this.#workers.push(worker);
    }
  }

  /** Jobs running now. */
  get running(): number {
    let n = 0;
    for (const slot of this.slots) if (slot.job) n++;
    return n;
  }

  /** The busy slots. */
  busy(): Slot[] {
    return this.slots.filter((s) => s.job !== null);
  }

  /**
   * The free slots, in the order to fill them: each next one on the Web
   * Worker with the fewest jobs, so a claim of several jobs is spread.
   */
  free(): Slot[] {
    const load = new Array<number>(this.size).fill(0);
    const free: Slot[][] = Array.from({ length: this.size }, () => []);
    for (const slot of this.slots) {
      if (slot.job) load[slot.webWorker]!++;
      else free[slot.webWorker]!.push(slot);
    }
    const order: Slot[] = [];
    for (;;) {
      let best = -1;
      for (let w = 0; w < this.size; w++) {
        if (free[w]!.length > 0 && (best < 0 || load[w]! < load[best]!)) best = w;
      }
      if (best < 0) return order;
      order.push(free[best]!.shift()!);
      load[best]!++;
    }
  }

  /** The slot running job `id`, if any. */
  find(id: string): Slot | undefined {
    return this.slots.find((s) => s.job?.id === id);
  }

  /** Hands `job` to a free `slot`'s Web Worker. */
  run(slot: Slot, job: ClaimedJob, request: RunRequest, maxRetries: number): void {
    slot.job = job;
    this.slotCount.taken();
    slot.killsSent = new Set();
    slot.pgid = null;
    slot.startedAt = Date.now();
    slot.handedAt = performance.now();
    slot.maxRetries = maxRetries;
    this.#post(slot, { type: "run", request });
  }

  /**
   * Stops the slot's job. Each reason is sent once, "force" every time;
   * a later, sterner kill ("fence" after "cancel" or a time-out, "lost",
   * "force") still goes out, so the job ends no later than it asks
   * (DESIGN.md, "Fencing"). `graceMs` is a fence's SIGTERM to SIGKILL.
   * Returns whether a kill was sent.
   */
  kill(slot: Slot, reason: KillReason, graceMs?: number): boolean {
    if (!slot.job || (slot.killsSent.has(reason) && reason !== "force")) return false;
    slot.killsSent.add(reason);
    this.#post(slot, {
      type: "kill",
      id: slot.job.id,
      reason,
      ...(graceMs === undefined ? {} : { graceMs }),
    });
    return true;
  }

  /** Ends every Web Worker (their running children are not waited for). */
  terminate(): void {
    for (const worker of this.#workers) worker.terminate();
  }

  #post(slot: Slot, message: ToJobWorker): void {
    this.#workers[slot.webWorker]!.postMessage(message);
  }

  #onMessage(webWorker: number, message: FromJobWorker): void {
    const slot = this.slots.find((s) =>
      s.webWorker === webWorker && s.job?.id === message.id && s.job.attempt === message.attempt
    );
    if (!slot) return; // a late message about a job this pool no longer runs
    switch (message.type) {
      case "started":
        this.#options.onStarted(slot, message);
        break;
      case "output":
        this.#options.onOutput(slot, message);
        break;
      case "finished": {
        const job = slot.job!;
        slot.job = null;
        this.slotCount.freed();
        this.#options.onFinished(slot, job, message.result);
        break;
      }
      default: {
        const never: never = message;
        throw new Error(`Unknown message ${JSON.stringify(never)}`);
      }
    }
  }
}
