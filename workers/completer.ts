/**
 * The completer: turns what the slot pool reports into writes, batched.
 * Everything that arrived since the last flush (process starts, output
 * snapshots, finishes) goes to the store in one `runRecordMany`, one flush
 * at a time; every write there is guarded, so a result that comes after a
 * rescue does not apply (its `job:end` event says so). A flush that fails
 * keeps its records and is tried again: the jobs stay leased to us meanwhile.
 * A flush of finishes also carries the claim that refills their slots.
 */
import { jobBackoff } from "../lib/backoff.ts";
import type { Config } from "../lib/config.ts";
import type { RunOutcome } from "../lib/job.ts";
import { decideAfterForcedStop, decideAfterRun } from "../lib/state.ts";
import type {
  ClaimedJob,
  RunFinish,
  RunOutputUpdate,
  RunStart,
  Storage,
} from "../lib/storage/storage.ts";
import type { SupervisorEvent } from "./events.ts";
import type { CommandResult } from "./messages.ts";
import { describeOutcome, toRunOutcome } from "./outcome.ts";
import type { RidingClaim } from "./producer.ts";
import type { SlotCount } from "./slot_count.ts";
import { errorMessage } from "../lib/errors.ts";

/** All a completer needs of a store (tests pass a fake). */
export type CompleterStore = Pick<Storage, "now" | "runRecordMany">;

type JobEnd = Extract<SupervisorEvent, { type: "job:end" }>;

/** One attempt that ended, as the slot pool reported it. */
export interface AttemptEnd {
  slot: number;
  job: ClaimedJob;
  maxRetries: number;
  /** Local wall clock when the job was handed to its Web Worker. */
  startedAt: number;
  result: CommandResult;
  /** The settings that decide the retry (the latest copy). */
  config: Config;
}

/** How a completer is set up. */
export interface CompleterOptions {
  store: CompleterStore;
  workerId: string;
  host: string;
  onEvent?: (event: SupervisorEvent) => void;
  /**
   * The slot count, told how many finishes wait for the next write and
   * whether a write is out: a round leaves the slots of waiting finishes
   * to the next write's riding claim.
   */
  slotCount: Pick<SlotCount, "finishesWaiting" | "writing">;
  /**
   * A claim for the slots that finishes freed, to commit with their write
   * (the producer's `rideAlong()`); asked by each flush that writes finishes.
   */
  ride?: () => Promise<RidingClaim | null>;
  /** After each successful flush that wrote finishes (slots may be claimed again). */
  onFinishesWritten?: (count: number) => void;
  /** Wait before trying a failed flush again (default 500 ms). */
  retryMs?: number;
}

/** The record of a finish and the event to emit once it is written. */
export function finishRecord(
  end: AttemptEnd,
  workerId: string,
  finishedAt: number,
): { finish: RunFinish; event: JobEnd } {
  const { job, result, config, maxRetries } = end;
  const forced = result.outcome.kind === "killed" && result.outcome.reason === "force";
  const outcome: RunOutcome = toRunOutcome(result.outcome);
  const decision = forced ? decideAfterForcedStop(finishedAt) : {
    ...decideAfterRun({
      outcome,
      attempt: job.attempt,
      maxRetries,
      now: finishedAt,
      backoff: jobBackoff(job, config),
      retryOn: job.retry_on,
      exitCode: result.exitCode,
    }),
    uncountAttempt: false,
  };
  const described = describeOutcome(result.outcome);
  const notRetried = "notRetried" in decision ? decision.notRetried : undefined;
  const error = notRetried ? `${described}; ${notRetried}` : described;
  return {
    finish: {
      id: job.id,
      workerId,
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
      slot: end.slot,
      id: job.id,
      attempt: job.attempt,
      maxAttempts: maxRetries + 1,
      outcome,
      error,
      state: decision.state,
      durationMs: result.finishedAt - end.startedAt,
      retryInS: decision.next_run_at === null || decision.state !== "failed"
        ? null
        : (decision.next_run_at - finishedAt) / 1000,
      applied: true,
      ran: { job, exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr },
    },
  };
}

/** Batches starts, output snapshots and finishes into `runRecordMany`. */
export class Completer {
  #options: CompleterOptions;
  #starts: RunStart[] = [];
  #outputs = new Map<string, RunOutputUpdate>();
  #finishes: { finish: RunFinish; event: JobEnd }[] = [];
  #writing: Promise<void> = Promise.resolve();
  #flushQueued = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #closing = false;

  constructor(options: CompleterOptions) {
    this.#options = options;
  }

  /** Records waiting to be written. */
  get pending(): number {
    return this.#starts.length + this.#outputs.size + this.#finishes.length;
  }

  /**
   * A job's process started: record its process group and start time (for
   * orphan clean-up). The job worker holds a start back until its finish or
   * for 50 ms (`job_runner.ts`), so a short job's start and finish arrive
   * together and go in one write.
   */
  started(id: string, attempt: number, pid: number, procStart: string | null): void {
    this.#starts.push({
      id,
      workerId: this.#options.workerId,
      attempt,
      host: this.#options.host,
      pgid: pid,
      procStart,
    });
    this.#queueFlush();
  }

  /** A running job's output so far (only the newest snapshot of a job is written). */
  output(id: string, attempt: number, stdout: Uint8Array, stderr: Uint8Array): void {
    this.#outputs.set(id, { id, workerId: this.#options.workerId, attempt, stdout, stderr });
    this.#queueFlush();
  }

  /** An attempt ended: decide the job's next state and write it with the next flush. */
  finished(end: AttemptEnd): void {
    const { store, workerId } = this.#options;
    // The Web Worker stamps the local clock; the store judges by its own.
    const finishedAt = end.result.finishedAt + (store.now() - Date.now());
    this.#outputs.delete(end.job.id); // the finish carries the final output
    this.#finishes.push(finishRecord(end, workerId, finishedAt));
    this.#options.slotCount.finishesWaiting(this.#finishes.length);
    this.#queueFlush();
  }

  /**
   * Writes what is left, trying failed flushes again until `timeoutMs` has
   * passed; then reports what could not be written (those jobs are
   * recovered as interrupted once their leases expire).
   */
  async close(timeoutMs = 5000): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#retryTimer);
    this.#queueFlush();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.#writing;
      if (this.pending === 0) return;
      if (Date.now() >= deadline) {
        this.#emit({
          type: "supervisor:error",
          message:
            `could not record ${this.#finishes.length} finished and ${this.#starts.length} ` +
            "started job(s) before stopping: they are recovered once their leases expire",
        });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, this.#options.retryMs ?? 500));
      this.#queueFlush();
    }
  }

  #emit(event: SupervisorEvent): void {
    this.#options.onEvent?.(event);
  }

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    this.#writing = this.#writing.then(() => this.#flush());
  }

  async #flush(): Promise<void> {
    this.#flushQueued = false;
    const starts = this.#starts.splice(0);
    const outputs = new Map(this.#outputs);
    this.#outputs.clear();
    const finishes = this.#finishes.splice(0);
    this.#options.slotCount.finishesWaiting(0);
    if (starts.length + outputs.size + finishes.length === 0) return;
    // Asked once the finishes are taken, so the producer counts their slots as free.
    const ride = finishes.length > 0 && !this.#closing
      ? (await this.#options.ride?.()) ?? null
      : null;
    let applied: Set<string>;
    let claimed: ClaimedJob[];
    // Finishes that come while the write is out wait for it: a round refills their slots.
    this.#options.slotCount.writing(true);
    try {
      const result = await this.#options.store.runRecordMany({
        starts,
        outputs: [...outputs.values()],
        finishes: finishes.map((f) => f.finish),
        claim: ride?.params,
      });
      applied = new Set(result.applied);
      claimed = result.claimed;
    } catch (error) {
      this.#options.slotCount.writing(false);
      ride?.failed();
      // Keep the records, in order, ahead of what came meanwhile.
      this.#emit({ type: "supervisor:error", message: errorMessage(error) });
      this.#starts.unshift(...starts);
      this.#finishes.unshift(...finishes);
      this.#options.slotCount.finishesWaiting(this.#finishes.length);
      const finished = new Set(this.#finishes.map((f) => f.finish.id));
      for (const [id, update] of outputs) {
        if (!this.#outputs.has(id) && !finished.has(id)) this.#outputs.set(id, update);
      }
      if (!this.#closing) {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => this.#queueFlush(), this.#options.retryMs ?? 500);
      }
      return;
    }
    this.#options.slotCount.writing(false);
    for (const { event } of finishes) this.#emit({ ...event, applied: applied.has(event.id) });
    ride?.claimed(claimed);
    if (finishes.length > 0) this.#options.onFinishesWritten?.(finishes.length);
  }
}
