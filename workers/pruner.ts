/**
 * The pruner: retention (README.md, "Keeping the database small"; DESIGN.md,
 * "Retention"). Deletes final jobs, with their attempts and output, once
 * they are older than `keep_completed`, `keep_cancelled` and `keep_dead`
 * (0 keeps them forever). One pass at a time across all hosts, about once
 * a minute, in small batches (one short transaction each) so a claim never
 * waits long behind it.
 *
 * Whose pass it is: the store's maintenance turns (`turnTake`, judged by
 * the store's clock) are named; the pruner takes its own turn, "pruner",
 * beside the rescuer's "rescuer", so the two never wait for each other.
 */
import type { Config } from "../lib/config.ts";
import { pruneEvents, pruneInBatches, retentionCutoffs } from "../lib/retention.ts";
import { PRUNABLE_STATES, type PruneCounts, type Storage } from "../lib/storage/storage.ts";
import type { Maintenance } from "./maintenance.ts";
import { oneAtATime } from "./one_at_a_time.ts";
import { errorMessage } from "../lib/errors.ts";

/** Gap between passes. */
export const PRUNE_EVERY_MS = 60_000;
/** First pass after start: soon, but not in the way of the first claims. */
const FIRST_PASS_MS = 1000;

/** The name of the pruner's maintenance turn (the rescuer's is "rescuer"). */
const PRUNER_TURN = "pruner";

/** What the pruner needs. */
export interface PrunerOptions {
  store: Storage;
  /** The supervisor running it: the holder of the pruner's turn. */
  selfId: string;
  /** Gap between passes (default {@linkcode PRUNE_EVERY_MS}). */
  everyMs?: number;
  /** Called after a pass that deleted anything, and with an error message when one failed. */
  onPruned?: (counts: PruneCounts) => void;
  onError?: (message: string) => void;
}

/** Retention as a small service: `runOnce` is a whole pass; `start`/`stop` the loop around it. */
export class Pruner {
  #options: PrunerOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  /** A pass, then the timer for the next one. */
  #pass = oneAtATime(async () => {
    if (this.#stopped) return;
    await this.#passOnce();
    this.#schedule(this.#everyMs());
  });

  constructor(options: PrunerOptions) {
    this.#options = options;
  }

  #everyMs(): number {
    return this.#options.everyMs ?? PRUNE_EVERY_MS;
  }

  #takeTurn(now: number): Promise<boolean> {
    return this.#options.store.turnTake({
      name: PRUNER_TURN,
      holder: this.#options.selfId,
      now,
      // Kept by its holder while it lives; another host takes over after two missed passes.
      ttlMs: 2 * this.#everyMs() + 10_000,
    });
  }

  /**
   * One pass at `now` with these settings: `null` when another holder has
   * the pruner's turn, else how many jobs per state went.
   */
  async runOnce(now: number, config: Config): Promise<PruneCounts | null> {
    const { store } = this.#options;
    if (!(await this.#takeTurn(now))) return null;
    const before = retentionCutoffs(config, now);
    const between = async () => !this.#stopped && await this.#takeTurn(store.now());
    const counts = await pruneInBatches(store, before, { between });
    // The event log goes by its own age, keep_events (README "Events").
    await pruneEvents(store, config, now, between);
    return counts;
  }

  /** Runs a pass soon after start, then one every `everyMs`. */
  start(): void {
    this.#schedule(FIRST_PASS_MS);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#pass(), ms);
  }

  async #passOnce(): Promise<void> {
    const { store } = this.#options;
    try {
      const config = await store.configGetAll();
      const counts = await this.runOnce(store.now(), config);
      if (counts && PRUNABLE_STATES.some((state) => counts[state] > 0)) {
        this.#options.onPruned?.(counts);
      }
    } catch (error) {
      this.#options.onError?.(errorMessage(error));
    }
  }

  /** Stops the loop; resolves once a pass under way has ended (it stops at its next batch). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#pass.busy) await this.#pass();
  }
}

/** The pruner as one of a supervisor's maintenance components. */
export function pruning(options: { everyMs?: number } = {}): Maintenance {
  let pruner: Pruner | undefined;
  return {
    name: "pruner",
    start(context) {
      pruner = new Pruner({
        store: context.store,
        selfId: context.workerId,
        ...(options.everyMs === undefined ? {} : { everyMs: options.everyMs }),
        onError: (message) =>
          context.emit({ type: "supervisor:error", message: `pruner: ${message}` }),
      });
      pruner.start();
    },
    async stop() {
      await pruner?.stop();
    },
  };
}
