/**
 * The rescuer: recovers jobs whose supervisor is gone. A job is stranded
 * when its lease expired (the supervisor stopped renewing it: SIGKILL,
 * power loss, a hung host) or, at once, when its supervisor ran on this host
 * and its pid no longer exists. The interrupted attempt counts as a failure
 * (backoff, or the DLQ), so a job that kills its worker cannot loop forever.
 *
 * Expired leases are looked for by one rescuer at a time across all hosts
 * (the store's maintenance turn named "rescuer", judged by its clock; the
 * pruner takes a turn of its own); dead supervisors of this host are
 * rescued by every rescuer on it, at once. Only a rescuer on the host a job
 * ran on ends its orphaned processes: its process group (if the leader is
 * still the same process) and every process carrying the run's cookie,
 * which also finds those whose shell already exited.
 */
import { type Config, heartbeatIntervalMs } from "../lib/config.ts";
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

  constructor(options: RescuerOptions) {
    this.#options = options;
  }

  /** One pass at time `now`; returns how many jobs were recovered. */
  async runOnce(now: number, config: Config): Promise<number> {
    const { store, host, selfId } = this.#options;
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
      now,
      ttlMs: 3 * heartbeatIntervalMs(config),
    });
    if (!myTurn && goneIds.length === 0) return 0;
    // Not our turn: only this host's dead supervisors (no lease expires before 0).
    const stranded = await store.jobListStranded({ now: myTurn ? now : 0, workerIds: goneIds });
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
      const reason = job.worker_id && goneIds.includes(job.worker_id)
        ? `worker ${job.worker_id} died`
        : `lease of worker ${job.worker_id} expired`;
      const maxRetries = job.max_retries ?? config.max_retries;
      const decision = decideAfterRun({
        outcome: "interrupted",
        attempt: job.attempt,
        maxRetries,
        now,
        backoff: { base: config.backoff_base, max: config.backoff_max },
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
        reason,
        maxRetries,
        retryInS: decision.next_run_at === null ? null : (decision.next_run_at - now) / 1000,
      });
    }
    const applied = new Set(await store.runFinishMany({ finishes }));
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
