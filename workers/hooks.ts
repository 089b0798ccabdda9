/**
 * `on_finish` hooks (README "Hooks", DESIGN.md "Hooks"): after an
 * attempt's end has committed (`job:end` with `applied`), the job's own
 * `on_finish`, else the setting's, runs on this host in the job's `cwd`
 * with the job's env and the attempt's facts in `QUEUECTL_*` variables.
 * It runs beside the slots, never in one: the slot is free and claimed
 * again before the hook has even started, so a slow hook delays no claim.
 * A hook has `hook_timeout`; its result goes to the attempt's run and the
 * event log (`runHookSet`), and it never changes the job.
 *
 * A job cancelled while not running (pending, blocked, failed, held) has
 * no worker: {@linkcode CancelledHooks} runs its hook from the event log,
 * reading `cancelled` events after a cursor kept in the store (the `hook`
 * mark), one pass at a time across hosts (the `hooks` turn), and skipping
 * the events of jobs that were running (they carry the run's worker, whose
 * own `job:end` runs the hook). The cursor moves after each hook: at least
 * once, twice only if a pass dies between a hook and its mark.
 */
import type { Config } from "../lib/config.ts";
import { errorMessage } from "../lib/errors.ts";
import type { HookResult, QueueEvent } from "../lib/event.ts";
import { readEventPage } from "../lib/event_reader.ts";
import type { Job } from "../lib/job.ts";
import type { Storage } from "../lib/storage/storage.ts";
import type { Maintenance, MaintenanceContext } from "./maintenance.ts";
import type { SupervisorEvent } from "./events.ts";
import { oneAtATime } from "./one_at_a_time.ts";
import { runCommand } from "./run_command.ts";

type JobEnd = Extract<SupervisorEvent, { type: "job:end" }>;

/** Bytes of a hook's own output kept for its error line. */
const HOOK_OUTPUT_LIMIT = 4096;

/** The environment of a hook for the end `end` (README "Hooks"). */
export function hookEnv(end: JobEnd, outputFile: string): Record<string, string> {
  const ran = end.ran!;
  return {
    ...(ran.job.env ?? {}),
    QUEUECTL_JOB_ID: end.id,
    QUEUECTL_ATTEMPT: String(end.attempt),
    QUEUECTL_STATE: end.state,
    QUEUECTL_EXIT_CODE: ran.exitCode === null ? "" : String(ran.exitCode),
    QUEUECTL_OUTCOME: end.outcome,
    QUEUECTL_QUEUE: ran.job.queue,
    QUEUECTL_DURATION_MS: String(Math.round(end.durationMs)),
    QUEUECTL_ERROR: end.error ?? "",
    QUEUECTL_OUTPUT: outputFile,
  };
}

/** Runs one hook to its end; never throws. */
export function runHook(
  end: JobEnd,
  command: string,
  timeoutS: number,
  workerId: string,
): Promise<HookResult> {
  const ran = end.ran!;
  return runHookCommand(
    {
      id: end.id,
      attempt: end.attempt,
      command,
      cwd: ran.job.cwd,
      output: [ran.stdout, ran.stderr],
      env: (outputFile) => hookEnv(end, outputFile),
    },
    timeoutS,
    workerId,
  );
}

/** What a hook runs: its command, where, with what, and the output its file holds. */
export interface HookRun {
  id: string;
  attempt: number;
  command: string;
  cwd: string | null;
  /** The chunks written to the `QUEUECTL_OUTPUT` file, in order. */
  output: Uint8Array[];
  env(outputFile: string): Record<string, string>;
}

/** Runs one hook command to its end; never throws. */
export async function runHookCommand(
  run: HookRun,
  timeoutS: number,
  workerId: string,
): Promise<HookResult> {
  const started = performance.now();
  let outputFile: string | null = null;
  try {
    outputFile = await Deno.makeTempFile({ prefix: "queuectl-output-" });
    const file = await Deno.open(outputFile, { write: true });
    try {
      for (const chunk of run.output) await file.write(chunk);
    } finally {
      file.close();
    }
    const result = await runCommand({
      id: run.id,
      attempt: run.attempt,
      command: run.command,
      cwd: run.cwd,
      env: run.env(outputFile),
      timeoutMs: timeoutS * 1000,
      outputLimit: HOOK_OUTPUT_LIMIT,
      fenceGraceMs: 1000,
      // Its own cookie: the rescuer never takes a hook for the job's attempt.
      workerId: `${workerId}-hook`,
    });
    const durationMs = Math.round(performance.now() - started);
    const kind = result.outcome.kind;
    if (kind === "succeeded") {
      return { outcome: "succeeded", exit_code: 0, duration_ms: durationMs, error: null };
    }
    const stderr = new TextDecoder().decode(result.stderr).trim().split("\n").at(-1) ?? "";
    if (kind === "timedOut") {
      return {
        outcome: "timed_out",
        exit_code: null,
        duration_ms: durationMs,
        error: `timed out after ${timeoutS} s`,
      };
    }
    if (kind === "spawnFailed") {
      return {
        outcome: "spawn_failed",
        exit_code: null,
        duration_ms: durationMs,
        error: "failed to start",
      };
    }
    const code = result.exitCode;
    return {
      outcome: "failed",
      exit_code: code,
      duration_ms: durationMs,
      error: (code === null ? `signal ${result.signal}` : `exit code ${code}`) +
        (stderr ? `: ${stderr.slice(0, 200)}` : ""),
    };
  } catch (error) {
    return {
      outcome: "spawn_failed",
      exit_code: null,
      duration_ms: Math.round(performance.now() - started),
      error: errorMessage(error),
    };
  } finally {
    if (outputFile) await Deno.remove(outputFile).catch(() => {});
  }
}

/** The name of the cursor of cancelled jobs' hooks (an event mark) and of its turn. */
export const HOOK_MARK = "hook";
const HOOK_TURN = "hooks";
/** The turn's time: renewed while a hook runs, so a dead holder's passes on within it. */
const TURN_TTL_MS = 15_000;
const TURN_RENEW_MS = 5000;
/** Pass cadence when nothing wakes the runner. */
const PASS_EVERY_MS = 1000;
const PAGE = 100;
/** A cursor with nothing due is moved once it lags this many seqs. */
const MARK_LAG = 1000;

/** The environment of the hook of a job cancelled while not running (README "Hooks"). */
export function cancelledHookEnv(
  job: Job,
  event: QueueEvent,
  outputFile: string,
): Record<string, string> {
  return {
    ...(job.env ?? {}),
    QUEUECTL_JOB_ID: job.id,
    QUEUECTL_ATTEMPT: String(event.attempt),
    QUEUECTL_STATE: "cancelled",
    // No attempt ran: no exit code, no outcome, no duration, an empty output file.
    QUEUECTL_EXIT_CODE: "",
    QUEUECTL_OUTCOME: "",
    QUEUECTL_QUEUE: job.queue,
    QUEUECTL_DURATION_MS: "",
    QUEUECTL_ERROR: event.error ?? "",
    QUEUECTL_OUTPUT: outputFile,
  };
}

/** Whether a `cancelled` event is of a job that was not running (no worker ends it). */
export function cancelledWhileNotRunning(event: QueueEvent): boolean {
  return event.type === "cancelled" && event.worker === null;
}

/** What {@linkcode CancelledHooks} needs. */
export interface CancelledHooksOptions {
  store: Storage;
  /** The holder of the turn and the hook's worker. */
  workerId: string;
  host: string;
  config(): Config;
  onError?: (message: string) => void;
}

/**
 * Runs the hooks of jobs cancelled while not running, from the `hook` mark
 * of the event log: `runOnce` runs every one due; `start`/`stop` the loop.
 */
export class CancelledHooks {
  #options: CancelledHooksOptions;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pass = oneAtATime(async () => {
    try {
      await this.runOnce();
    } catch (error) {
      this.#options.onError?.(`hooks: ${errorMessage(error)}`);
    }
  });

  constructor(options: CancelledHooksOptions) {
    this.#options = options;
  }

  #takeTurn(): Promise<boolean> {
    const { store, workerId } = this.#options;
    return store.turnTake({
      name: HOOK_TURN,
      holder: workerId,
      now: store.now(),
      ttlMs: TURN_TTL_MS,
    });
  }

  /**
   * Runs the hook of every due event after the cursor, in order; returns how
   * many ran. Reads first and takes the turn only for a page with a due
   * event, so an idle or hook-less store costs reads only; a page without
   * one moves the cursor without the turn (no holder can be inside it).
   */
  async runOnce(): Promise<number> {
    const { store } = this.#options;
    let ran = 0;
    for (;;) {
      if (this.#stopped) return ran;
      const cursor = await store.eventMarkGet({ name: HOOK_MARK });
      const page = await readEventPage(store, cursor, { types: ["cancelled"] }, PAGE)
        .catch(async (error) => {
          // Pruned past the cursor: those jobs' hooks cannot run; go on from what is kept.
          const latest = await store.eventList({ after: 0, limit: 1 });
          this.#options.onError?.(`hooks: ${errorMessage(error)}; going on after it`);
          await store.eventMarkSet({ name: HOOK_MARK, seq: latest.prunedThrough });
          throw error;
        });
      const due = page.events.filter(cancelledWhileNotRunning);
      const full = page.events.length === PAGE;
      if (due.length === 0) {
        // Moved now and then, not on every pass: a write per pass per process is not worth it.
        if (full || page.through - cursor >= MARK_LAG) {
          await store.eventMarkSet({ name: HOOK_MARK, seq: page.through });
        }
        if (!full) return ran;
        continue;
      }
      if (!(await this.#takeTurn())) return ran;
      // Under the turn: a holder before us may have moved the cursor past some.
      const from = await store.eventMarkGet({ name: HOOK_MARK });
      for (const event of due) {
        if (event.seq <= from) continue;
        if (this.#stopped) return ran;
        // Renew (and check) the turn before each hook: another host may have taken it.
        if (!(await this.#takeTurn())) return ran;
        if (await this.#runFor(event)) ran++;
        // After the hook: a pass that dies in between runs it again (at least once).
        await store.eventMarkSet({ name: HOOK_MARK, seq: event.seq });
      }
      await store.eventMarkSet({ name: HOOK_MARK, seq: page.through });
      if (!full) return ran;
    }
  }

  /** Runs the hook of one cancel, if the job has one; true when it ran. */
  async #runFor(event: QueueEvent): Promise<boolean> {
    const { store, workerId, host } = this.#options;
    const job = await store.jobGet({ id: event.job });
    if (!job) return false; // deleted since
    const config = this.#options.config();
    const command = job.on_finish ?? config.on_finish;
    if (!command) return false;
    const renew = setInterval(() => void this.#takeTurn().catch(() => {}), TURN_RENEW_MS);
    let hook: HookResult;
    try {
      hook = await runHookCommand(
        {
          id: job.id,
          attempt: event.attempt,
          command,
          cwd: job.cwd,
          output: [],
          env: (outputFile) => cancelledHookEnv(job, event, outputFile),
        },
        config.hook_timeout,
        workerId,
      );
    } finally {
      clearInterval(renew);
    }
    if (hook.outcome !== "succeeded") {
      this.#options.onError?.(
        `on_finish hook of job ${job.id} (cancelled, attempt ${event.attempt}): ${hook.error}`,
      );
    }
    await store.runHookSet({
      id: job.id,
      attempt: event.attempt,
      hook,
      now: store.now(),
      eventOnly: { host, worker: workerId },
    });
    return true;
  }

  /** Runs a pass soon (a commit happened). */
  wake(): void {
    if (!this.#stopped) void this.#pass();
  }

  /** Runs a pass every second and on every wake-up. */
  start(): void {
    const tick = () => {
      if (this.#stopped) return;
      void this.#pass();
      this.#timer = setTimeout(tick, PASS_EVERY_MS);
    };
    tick();
  }

  /** Stops; resolves once a pass under way (and its hook) has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#pass.busy) await this.#pass();
  }
}

/** Hooks as one of a supervisor's maintenance components. */
export function hooks(): Maintenance {
  let context: MaintenanceContext | undefined;
  let cancelled: CancelledHooks | undefined;
  const running = new Set<Promise<void>>();
  const run = async (end: JobEnd, command: string) => {
    const ctx = context!;
    const hook = await runHook(end, command, ctx.config().hook_timeout, ctx.workerId);
    if (hook.outcome !== "succeeded") {
      ctx.emit({
        type: "supervisor:error",
        message: `on_finish hook of job ${end.id} attempt ${end.attempt}: ${hook.error}`,
      });
    }
    try {
      await ctx.store.runHookSet({ id: end.id, attempt: end.attempt, hook, now: ctx.store.now() });
    } catch (error) {
      ctx.emit({ type: "supervisor:error", message: `hooks: ${errorMessage(error)}` });
    }
  };
  return {
    name: "hooks",
    start(ctx) {
      context = ctx;
      cancelled = new CancelledHooks({
        store: ctx.store,
        workerId: ctx.workerId,
        host: ctx.host,
        config: ctx.config,
        onError: (message) => ctx.emit({ type: "supervisor:error", message }),
      });
      cancelled.start();
    },
    wake() {
      cancelled?.wake();
    },
    onEvent(event) {
      if (event.type !== "job:end" || !event.applied || !event.ran || !context) return;
      if (event.state === "pending") return;
      const command = event.ran.job.on_finish ?? context.config().on_finish;
      if (!command) return;
      const task = run(event, command).finally(() => running.delete(task));
      running.add(task);
    },
    async stop() {
      // Hooks under way end within their timeout; a stopping worker waits for them.
      await Promise.allSettled([...running, cancelled?.stop()]);
      cancelled = undefined;
      context = undefined;
    },
  };
}
