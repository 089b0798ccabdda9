/**
 * The rescuer: recovers jobs whose supervisor is gone. A job is stranded
 * when its lease expired (the supervisor stopped renewing it: SIGKILL,
 * power loss, a hung host) or, at once, when its supervisor ran on this host
 * and its pid no longer exists. The interrupted attempt counts as a failure
 * (backoff, or the DLQ), so a job that kills its worker cannot loop forever.
 *
 * Expired leases are looked for by one rescuer at a time across all hosts
 * (the store's maintenance turn named "rescuer", judged by its clock; the
 * pruner takes a turn of its own), and a rescue by lease is written only
 * while the lease has expired by the store's clock at that moment; dead
 * supervisors of this host are rescued by every rescuer on it, at once.
 * Passes run on their own timer, one at a time, never inside a heartbeat,
 * so a slow pass never delays a renewal (DESIGN.md, "Fencing"). Only a rescuer on the host a job
 * ran on ends its orphaned processes: its process group (if the leader is
 * still the same process) and every process carrying the run's cookie,
 * which also finds those whose shell already exited.
 */
import { jobBackoff } from "../lib/backoff.ts";
import { type Config, heartbeatIntervalMs } from "../lib/config.ts";
import { errorMessage } from "../lib/errors.ts";
import { oneAtATime } from "./one_at_a_time.ts";
import type { RunFinish, Storage, StrandedJob } from "../lib/storage/storage.ts";
import { decideAfterRun } from "../lib/state.ts";
import type { SupervisorEvent } from "./events.ts";
import { endOrphans, workerPresence } from "./process_group.ts";
import { runCookie } from "./proc_scan.ts";

/** The name of the rescuer's maintenance turn (the pruner's is "pruner"). */
const RESCUER_TURN = "rescuer";

/** What the rescuer needs to know about where it runs. */
export interface RescuerOptions {
  store: Storage;
  host: string;
  /** The supervisor running this rescuer: never treated as gone; the holder of the rescuer's turn. */
  selfId: string;
  onEvent?: (event: SupervisorEvent) => void;
}

/** Finds stranded jobs and moves them on; `runOnce` is the whole service. */
export class Rescuer {
  #options: RescuerOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #config: () => Config = () => {
    throw new Error("Rescuer not started");
  };
  #pass = oneAtATime(async () => {
    if (this.#stopped) return;
    try {
      await this.runOnce(undefined, this.#config());
    } catch (error) {
      this.#options.onEvent?.({ type: "supervisor:error", message: errorMessage(error) });
    }
  });

  constructor(options: RescuerOptions) {
    this.#options = options;
  }

  /**
   * Runs a pass every `intervalMs` (default a heartbeat's interval) after
   * the last one ended, with the settings `config` gives.
   */
  start(config: () => Config, intervalMs?: number): void {
    this.#config = config;
    const loop = () => {
      if (this.#stopped) return;
      this.#timer = setTimeout(async () => {
        await this.#pass();
        loop();
      }, intervalMs ?? heartbeatIntervalMs(config()));
    };
    loop();
  }

  /** No more passes; resolves when a pass under way has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#pass.busy) await this.#pass();
  }

  /**
   * One pass; returns how many jobs were recovered. Leases and the turn are
   * judged by the store's clock; `now` fixes it in tests (and stamps the
   * records, else the store's `now()`).
   */
  async runOnce(testNow: number | undefined, config: Config): Promise<number> {
    const { store, host, selfId } = this.#options;
    const now = testNow ?? store.now();
    const workers = await store.workerListAll();
    // Dead by pid only where the pid can be judged: a worker registered from
    // another pid space under this host id is left to its leases.
    const gone = workers.filter((w) =>
      w.id !== selfId && w.host === host && workerPresence(w) === "gone"
    );
    const goneIds = gone.map((w) => w.id);
    // The turn lasts a few heartbeats: its holder keeps it while alive.
    const myTurn = await store.turnTake({
      name: RESCUER_TURN,
      holder: selfId,
      now: testNow,
      ttlMs: 3 * heartbeatIntervalMs(config),
    });
    if (!myTurn && goneIds.length === 0) return 0;
    // Not our turn: only this host's dead supervisors.
    const stranded = await store.jobListStranded({
      now: testNow,
      workerIds: goneIds,
      leases: myTurn,
    });
    const finishes:
      (RunFinish & { reason: string; maxRetries: number; retryInS: number | null })[] = [];
    // A retry must never run beside its orphans: end them first, on the
    // host the attempt ran on: its start record's, or while that is not
    // written yet (a start waits up to 50 ms for its finish) its
    // supervisor's. Where neither is known it may have run here: the
    // cookie is unique to the run, so looking costs a scan and can hit
    // nothing else.
    const hostOf = new Map(workers.map((w) => [w.id, w.host]));
    const ranHere = (job: StrandedJob) => {
      const ranOn = job.host ?? hostOf.get(job.worker_id ?? "") ?? null;
      return ranOn === host || ranOn === null;
    };
    await endOrphans(
      stranded.filter(ranHere).map((job) => ({
        pgid: job.pgid,
        procStart: job.proc_start,
        cookie: job.worker_id === null ? null : runCookie(job.worker_id, job.id, job.attempt),
      })),
    );
    for (const job of stranded) {
      const died = job.worker_id !== null && goneIds.includes(job.worker_id);
      const reason = died
        ? `worker ${job.worker_id} died`
        : `lease of worker ${job.worker_id} expired`;
      const maxRetries = job.max_retries ?? config.max_retries;
      const decision = decideAfterRun({
        outcome: "interrupted",
        attempt: job.attempt,
        maxRetries,
        now,
        backoff: jobBackoff(job, config),
      });
      finishes.push({
        id: job.id,
        workerId: job.worker_id ?? "",
        attempt: job.attempt,
        outcome: "interrupted",
        exitCode: null,
        signal: null,
        error: `interrupted: ${reason}`,
        finishedAt: now,
        stdout: null,
        stderr: null,
        state: decision.state,
        nextRunAt: decision.next_run_at,
        uncountAttempt: false,
        // By lease: only if it is still expired when written (a renewal may have come).
        ifLeaseExpired: !died,
        reason,
        maxRetries,
        retryInS: decision.next_run_at === null ? null : (decision.next_run_at - now) / 1000,
      });
    }
    const applied = new Set(await store.runFinishMany({ finishes, now: testNow }));
    for (const f of finishes) {
      if (!applied.has(f.id)) continue;
      this.#options.onEvent?.({
        type: "job:rescued",
        id: f.id,
        attempt: f.attempt,
        maxAttempts: f.maxRetries + 1,
        reason: f.reason,
        state: f.state,
        retryInS: f.retryInS,
      });
    }
    // Forget supervisors that are gone for good: dead on this host, or
    // silent for ten leases anywhere (their jobs were recovered above).
    const forgetBefore = now - 10 * config.lease_timeout * 1000;
    for (const w of workers) {
      if (w.id === selfId) continue;
      if (goneIds.includes(w.id) || (myTurn && Date.parse(w.heartbeat_at) < forgetBefore)) {
        await store.workerRemove({ id: w.id });
      }
    }
    return applied.size;
  }
}
