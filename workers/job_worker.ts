/**
 * The Web Worker entry module: a {@linkcode jobRunner} on the messages of
 * the supervisor's slot pool. It runs several attempts at once (one per
 * slot it serves) and never touches the database; the supervisor owns
 * every write.
 */
/// <reference lib="deno.worker" />
import type { FromJobWorker, ToJobWorker } from "./messages.ts";
import { jobRunner } from "./job_runner.ts";

// What is posted in one turn goes as one message: a short job's start and
// finish, or the ends of jobs that exited together, wake the supervisor once.
let outbox: FromJobWorker[] = [];
const handle = jobRunner((message: FromJobWorker) => {
  if (outbox.push(message) > 1) return;
  queueMicrotask(() => {
    const batch = outbox;
    outbox = [];
    self.postMessage(batch);
  });
});

// Registered before any await, so no message from the supervisor is missed.
self.onmessage = (event: MessageEvent<ToJobWorker>) => {
  const message = event.data;
  if (message.type === "close") self.close();
  else handle(message);
};
