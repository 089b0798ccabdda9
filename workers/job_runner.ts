/**
 * What a job worker does with the supervisor's messages, apart from the
 * Web Worker it lives in (so tests drive it directly): runs every attempt
 * it is sent at once, side by side, and reports each one's start, output
 * and end by job id. `finished` is always posted: `runCommandSettled`
 * turns a rejected run into a failed start, so no slot stays busy and no
 * job stays `processing` forever.
 */
import type { FromJobWorker, ToJobWorker } from "./messages.ts";
import { runCommand, type RunCommandOptions, runCommandSettled } from "./run_command.ts";

/** How long a job's `started` report waits to go out with its `finished`. */
export const START_POST_DELAY_MS = 50;

/**
 * A handler of `run` and `kill` messages that posts its reports through
 * `post`; `run` is replaceable for tests.
 */
export function jobRunner(
  post: (message: FromJobWorker) => void,
  run: typeof runCommand = runCommand,
  startDelayMs = START_POST_DELAY_MS,
): (message: Extract<ToJobWorker, { type: "run" | "kill" }>) => void {
  const running = new Map<
    string,
    { controller: AbortController; control: NonNullable<RunCommandOptions["control"]> }
  >();
  return (message) => {
    switch (message.type) {
      case "run": {
        const { request } = message;
        const controller = new AbortController();
        const control: NonNullable<RunCommandOptions["control"]> = {};
        running.set(request.id, { controller, control });
        const { id, attempt } = request;
        // The start is posted a moment later, or just before the finish if the
        // job ends first: one wake-up of the supervisor for a short job, and
        // none while its process is starting (on 2 cores they compete).
        let started: (() => FromJobWorker) | null = null;
        let startTimer: ReturnType<typeof setTimeout> | undefined;
        const postStarted = () => {
          clearTimeout(startTimer);
          if (started) post(started());
          started = null;
        };
        void runCommandSettled(request, {
          signal: controller.signal,
          control,
          onStart: (pid, procStart) => {
            started = () => ({ type: "started", id, attempt, pid, procStart: procStart() });
            startTimer = setTimeout(postStarted, startDelayMs);
          },
          onOutput: (stdout, stderr) => {
            postStarted();
            post({ type: "output", id, attempt, stdout, stderr });
          },
        }, run).then((result) => {
          // Always reached: runCommandSettled never rejects.
          running.delete(id);
          postStarted();
          post({ type: "finished", id, attempt, result });
        });
        break;
      }
      case "kill": {
        // Before the process started, the abort stops it as it starts;
        // after, `control` also takes later, sterner kills.
        const run = running.get(message.id);
        run?.controller.abort(message.reason);
        run?.control.kill?.(message.reason, message.graceMs);
        break;
      }
      default: {
        const never: never = message;
        throw new Error(`Unknown message ${JSON.stringify(never)}`);
      }
    }
  };
}
