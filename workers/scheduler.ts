/**
 * The firer of schedules: every worker process (and dashboard with
 * `--workers`) runs one beside its supervisor. It sleeps on a timer until
 * the earliest next due time of all schedules, fires what is due, and
 * sleeps again; a change hint from the store (its supervisor's `watchChanges`: a schedule
 * added, paused, resumed or fired elsewhere) re-reads that time, so there
 * is no polling every second.
 *
 * Many firers may wake for one due time, on one host or many: each fire is
 * the store's guarded `scheduleFireMany` (advance of the next due time and the
 * job insert in one transaction), so exactly one of them enqueues the job.
 * What to enqueue (catch-up of missed times) is the pure `planFire()`.
 */
import { planFire, scheduleJobs } from "../lib/schedule.ts";
import type { ScheduleFire, Storage } from "../lib/storage/storage.ts";
import type { SupervisorEvent } from "./events.ts";
import type { Maintenance } from "./maintenance.ts";
import { oneAtATime } from "./one_at_a_time.ts";
import { errorMessage } from "../lib/errors.ts";

/** Options of a {@linkcode Scheduler}. */
export interface SchedulerOptions {
  store: Storage;
  onEvent?: ((event: SupervisorEvent) => void) | undefined;
  /**
   * The longest sleep without re-reading the next due time, in case a
   * change hint was lost (default one minute).
   */
  maxSleepMs?: number | undefined;
  /**
   * Open a change watch of its own (default). False when its owner forwards
   * the change hints it hears anyway (`hint()`): one watch less per process,
   * and each watch pays for every commit.
   */
  watch?: boolean;
}

/** Change hints come with every commit: re-read the next due time at most this often. */
const REREAD_MIN_GAP_MS = 200;
/** Due schedules fired per store read; more are fired by the next pass at once. */
const BATCH = 200;
/** After a failed pass, wait this long before the next one (the store may be down). */
const RETRY_AFTER_ERROR_MS = 1000;
const DEFAULT_MAX_SLEEP_MS = 60_000;

/** Fires due schedules; `runOnce` is the whole service, `start`/`stop` its timer loop. */
export class Scheduler {
  #options: SchedulerOptions;
  #store: Storage;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #watch: { close(): void } | undefined;
  #running = false;
  #stopped = false;
  /** A schedule (or the store) failed in the current pass. */
  #failed = false;
  #lastReadAt = -Infinity;
  #deferred: ReturnType<typeof setTimeout> | undefined;
  /**
   * The next pass was asked for by a timer (the due time, the deferred
   * hint, the start), so it runs at once; a pass asked for by a hint, or
   * asked for again while one ran, keeps the gap and the failure rule.
   */
  #timed = false;
  /** A pass and the timer for the next one; a call while one runs asks for one more after it. */
  #pass = oneAtATime(() => this.#passOrWait());

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#store = options.store;
  }

  /** Fires what is due now (catch-up included) and sleeps until the next due time. */
  start(): void {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    if (this.#options.watch !== false) this.#watch = this.#store.watchChanges(() => this.hint());
    this.#runNow();
  }

  /** Stops the timer and the watch; resolves when a pass under way has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#running = false;
    clearTimeout(this.#timer);
    clearTimeout(this.#deferred);
    this.#watch?.close();
    this.#watch = undefined;
    if (this.#pass.busy) await this.#pass();
  }

  /**
   * Fires every schedule due at `now` (one batch, one transaction); returns
   * how many jobs it enqueued. A due time another process fired first is
   * left alone; a schedule whose plan fails is reported and the others
   * still fire.
   */
  async runOnce(now: number): Promise<number> {
    const due = await this.#store.scheduleListDue({ now, limit: BATCH });
    const fires: (ScheduleFire & { missed: number })[] = [];
    for (const schedule of due) {
      if (schedule.next_run_at === null) continue;
      try {
        const plan = planFire({
          cron: schedule.cron,
          tz: schedule.tz,
          catchUp: schedule.catch_up,
          nextRunAt: schedule.next_run_at,
          now,
        });
        fires.push({
          name: schedule.name,
          expectedNextRunAt: schedule.next_run_at,
          nextRunAt: plan.nextRunAt,
          jobs: scheduleJobs(schedule, plan.dueTimes),
          missed: plan.missed,
        });
      } catch (error) {
        this.#failed = true;
        this.#options.onEvent?.({
          type: "supervisor:error",
          message: `schedule ${schedule.name}: ${errorMessage(error)}`,
        });
      }
    }
    // stop() meanwhile: the rest is left to another firer, or the next start.
    if (fires.length === 0 || this.#stopped) return 0;
    const results = await this.#store.scheduleFireMany({ fires, now });
    let enqueued = 0;
    results.forEach((result, i) => {
      if (!result.fired) return;
      enqueued += result.inserted.length;
      this.#options.onEvent?.({
        type: "schedule:fire",
        name: fires[i]!.name,
        inserted: result.inserted,
        skipped: result.skipped,
        missed: fires[i]!.missed,
      });
    });
    return enqueued;
  }

  /** A change hint: re-read the next due time soon (at most every REREAD_MIN_GAP_MS). */
  hint(): void {
    // After a failed pass only the retry timer runs the next one.
    if (!this.#running || this.#failed) return;
    void this.#pass();
  }

  /** A timer is due: a pass now (or, if one is under way, a hinted one after it). */
  #runNow(): void {
    if (!this.#pass.busy) this.#timed = true;
    void this.#pass();
  }

  /**
   * One pass: fire what is due, then set the timer for the next due time.
   * A pass asked for by a hint within REREAD_MIN_GAP_MS of the last read
   * waits for the rest of the gap instead; after a failed pass, hints wait
   * for the retry timer.
   */
  async #passOrWait(): Promise<void> {
    const timed = this.#timed;
    this.#timed = false;
    if (!this.#running) return;
    if (!timed) {
      if (this.#failed) return;
      const wait = this.#lastReadAt + REREAD_MIN_GAP_MS - performance.now();
      if (wait > 0) {
        this.#deferred ??= setTimeout(() => {
          this.#deferred = undefined;
          this.#runNow();
        }, wait);
        return;
      }
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#failed = false;
    let delay: number;
    this.#lastReadAt = performance.now();
    try {
      await this.runOnce(this.#store.now());
      const next = await this.#store.scheduleNextDueAt();
      delay = next === null ? Infinity : next - this.#store.now();
    } catch (error) {
      this.#failed = true;
      this.#options.onEvent?.({
        type: "supervisor:error",
        message: `scheduler: ${errorMessage(error)}`,
      });
      delay = 0;
    }
    // A failing schedule or store is retried, but never in a tight loop.
    if (this.#failed) delay = Math.max(delay, RETRY_AFTER_ERROR_MS);
    if (!this.#running) return;
    const sleep = Math.max(0, Math.min(delay, this.#options.maxSleepMs ?? DEFAULT_MAX_SLEEP_MS));
    this.#timer = setTimeout(() => this.#runNow(), sleep);
  }
}

/** The firer as one of a supervisor's maintenance components, on the supervisor's change feed. */
export function scheduling(): Maintenance {
  let scheduler: Scheduler | undefined;
  return {
    name: "scheduler",
    start(context) {
      scheduler = new Scheduler({ store: context.store, onEvent: context.emit, watch: false });
      scheduler.start();
    },
    async stop() {
      await scheduler?.stop();
    },
    wake() {
      scheduler?.hint();
    },
  };
}
