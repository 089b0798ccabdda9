/**
 * The Web Worker entry module: runs the attempts the supervisor's slot pool
 * sends, several at once (one per slot it serves), and reports start,
 * output and end of each by job id. It never touches the database; the
 * supervisor owns every write.
 */
/// <reference lib="deno.worker" />
import type { FromJobWorker, ToJobWorker } from "./messages.ts";
import { runCommandSettled } from "./run_command.ts";

const running = new Map<string, AbortController>();

function post(message: FromJobWorker): void {
  self.postMessage(message);
}

// Registered before any await, so no message from the supervisor is missed.
self.onmessage = (event: MessageEvent<ToJobWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "run": {
      const { request } = message;
      const controller = new AbortController();
      running.set(request.id, controller);
      runCommandSettled(request, {
        signal: controller.signal,
        onStart: (pid, procStart) =>
          post({ type: "started", id: request.id, attempt: request.attempt, pid, procStart }),
        onOutput: (stdout, stderr) =>
          post({ type: "output", id: request.id, attempt: request.attempt, stdout, stderr }),
      }).then((result) => {
        // Always reached: runCommandSettled never rejects.
        running.delete(request.id);
        post({ type: "finished", id: request.id, attempt: request.attempt, result });
      });
      break;
    }
    case "kill":
      running.get(message.id)?.abort(message.reason);
      break;
    case "close":
      self.close();
      break;
    default: {
      const never: never = message;
      throw new Error(`Unknown message ${JSON.stringify(never)}`);
    }
  }
};
