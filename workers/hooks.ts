/**
 * `on_finish` hooks (README "Hooks", DESIGN.md "Hooks"): after an
 * attempt's end has committed (`job:end` with `applied`), the job's own
 * `on_finish`, else the setting's, runs on this host in the job's `cwd`
 * with the job's env and the attempt's facts in `QUEUECTL_*` variables.
 * It runs beside the slots, never in one: the slot is free and claimed
 * again before the hook has even started, so a slow hook delays no claim.
 * A hook has `hook_timeout`; its result goes to the attempt's run and the
 * event log (`runHookSet`), and it never changes the job.
 */
import { errorMessage } from "../lib/errors.ts";
import type { HookResult } from "../lib/event.ts";
import type { Maintenance, MaintenanceContext } from "./maintenance.ts";
import type { SupervisorEvent } from "./events.ts";
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
export async function runHook(
  end: JobEnd,
  command: string,
  timeoutS: number,
  workerId: string,
): Promise<HookResult> {
  const ran = end.ran!;
  const started = performance.now();
  let outputFile: string | null = null;
  try {
    outputFile = await Deno.makeTempFile({ prefix: "queuectl-output-" });
    const file = await Deno.open(outputFile, { write: true });
    try {
      await file.write(ran.stdout);
      await file.write(ran.stderr);
    } finally {
      file.close();
    }
    const result = await runCommand({
      id: end.id,
      attempt: end.attempt,
      command,
      cwd: ran.job.cwd,
      env: hookEnv(end, outputFile),
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

/** Hooks as one of a supervisor's maintenance components. */
export function hooks(): Maintenance {
  let context: MaintenanceContext | undefined;
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
      await Promise.allSettled([...running]);
      context = undefined;
    },
  };
}
