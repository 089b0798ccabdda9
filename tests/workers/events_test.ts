import assert from "node:assert/strict";
import { formatEvent, type SupervisorEvent } from "../../workers/events.ts";

type JobEnd = Extract<SupervisorEvent, { type: "job:end" }>;

function jobEnd(overrides: Partial<JobEnd>): JobEnd {
  return {
    type: "job:end",
    slot: 2,
    id: "fail1",
    attempt: 1,
    maxAttempts: 4,
    outcome: "failed",
    error: "exit code 1",
    state: "failed",
    durationMs: 12,
    retryInS: 2,
    applied: true,
    ...overrides,
  };
}

Deno.test("formatEvent() prints a start with its slot, job and attempt", () => {
  assert.equal(
    formatEvent({ type: "job:start", slot: 1, id: "ok1", attempt: 1, maxAttempts: 4 }),
    "worker-1  job ok1  started (attempt 1/4)",
  );
});

Deno.test("formatEvent() prints a completion with its duration", () => {
  assert.equal(
    formatEvent(jobEnd({
      slot: 1,
      id: "ok1",
      outcome: "succeeded",
      error: null,
      state: "completed",
      retryInS: null,
    })),
    "worker-1  job ok1  completed in 12 ms",
  );
});

Deno.test("formatEvent() prints a failure with the retry number and its backoff", () => {
  assert.equal(formatEvent(jobEnd({})), "worker-2  job fail1  failed (exit 1), retry 1/3 in 2 s");
  assert.equal(
    formatEvent(jobEnd({ attempt: 2, retryInS: 4.0004 })),
    "worker-2  job fail1  failed (exit 1), retry 2/3 in 4 s",
  );
  assert.equal(
    formatEvent(jobEnd({ retryInS: 1.5 })),
    "worker-2  job fail1  failed (exit 1), retry 1/3 in 1.5 s",
  );
});

Deno.test("formatEvent() prints the move to the DLQ after the last attempt", () => {
  const line = formatEvent(jobEnd({ attempt: 4, state: "dead", retryInS: null }));
  assert.equal(line, "worker-2  job fail1  failed (exit 1); moved to DLQ after 4 attempts");
  assert.ok(line.startsWith("worker-2  job fail1  "));
  assert.ok(line.endsWith("moved to DLQ after 4 attempts"));
  assert.equal(
    formatEvent(jobEnd({ attempt: 1, maxAttempts: 1, state: "dead", retryInS: null })),
    "worker-2  job fail1  failed (exit 1); moved to DLQ after 1 attempt",
  );
});

Deno.test("formatEvent() names timeouts, start failures, signals and interruptions", () => {
  assert.equal(
    formatEvent(jobEnd({ outcome: "timed_out", error: "timed out after 1 s" })),
    "worker-2  job fail1  timed out after 1 s, retry 1/3 in 2 s",
  );
  assert.equal(
    formatEvent(jobEnd({
      outcome: "spawn_failed",
      error: 'cannot start: working directory "/x" does not exist',
      state: "dead",
      attempt: 4,
    })),
    'worker-2  job fail1  failed to start (cannot start: working directory "/x" does not exist); moved to DLQ after 4 attempts',
  );
  assert.equal(
    formatEvent(jobEnd({ error: "killed by SIGKILL" })),
    "worker-2  job fail1  failed (killed by SIGKILL), retry 1/3 in 2 s",
  );
  assert.equal(
    formatEvent(jobEnd({ error: "exit code 127 (command not found)" })),
    "worker-2  job fail1  failed (exit 127), retry 1/3 in 2 s",
  );
});

Deno.test("formatEvent() prints cancel, forced stop and a result dropped after a rescue", () => {
  assert.equal(
    formatEvent(jobEnd({ outcome: "cancelled", state: "cancelled", retryInS: null })),
    "worker-2  job fail1  cancelled",
  );
  assert.equal(
    formatEvent(jobEnd({ outcome: "interrupted", state: "pending", retryInS: null })),
    "worker-2  job fail1  stopped, back to pending",
  );
  assert.equal(
    formatEvent(jobEnd({ applied: false })),
    "worker-2  job fail1  finished, but it was recovered by another worker meanwhile",
  );
});

Deno.test("formatEvent() prints rescues of stranded jobs", () => {
  const rescued = {
    type: "job:rescued" as const,
    id: "j1",
    attempt: 1,
    maxAttempts: 4,
    reason: "worker w1 died",
  };
  assert.equal(
    formatEvent({ ...rescued, state: "failed", retryInS: 2 }),
    "rescuer   job j1  interrupted (worker w1 died), retry 1/3 in 2 s",
  );
  assert.equal(
    formatEvent({ ...rescued, attempt: 4, state: "dead", retryInS: null }),
    "rescuer   job j1  interrupted (worker w1 died); moved to DLQ after 4 attempts",
  );
});

Deno.test("formatEvent() prints the supervisor's start, stop and errors", () => {
  assert.equal(
    formatEvent({ type: "supervisor:start", id: "h-1-a", count: 1, queues: null }),
    "supervisor h-1-a started 1 worker",
  );
  assert.equal(
    formatEvent({ type: "supervisor:start", id: "h-1-a", count: 4, queues: ["mail", "video"] }),
    "supervisor h-1-a started 4 workers on queues mail, video",
  );
  assert.equal(
    formatEvent({ type: "supervisor:stopping", mode: "graceful", running: 0 }),
    "stopping",
  );
  assert.equal(
    formatEvent({ type: "supervisor:stopping", mode: "graceful", running: 2 }),
    "stopping: waiting for 2 running jobs to finish (signal again to stop them now)",
  );
  assert.match(
    formatEvent({ type: "supervisor:stopping", mode: "force", running: 1 }),
    /^stopping now: 1 running job goe?s? back to pending$/,
  );
  assert.equal(formatEvent({ type: "supervisor:stop", id: "h-1-a" }), "supervisor h-1-a stopped");
  assert.equal(formatEvent({ type: "supervisor:error", message: "boom" }), "error: boom");
});

Deno.test("formatEvent() lines are single lines", () => {
  const events: SupervisorEvent[] = [
    { type: "job:start", slot: 1, id: "a", attempt: 1, maxAttempts: 1 },
    jobEnd({}),
    jobEnd({ state: "dead" }),
    { type: "supervisor:stopping", mode: "graceful", running: 3 },
  ];
  for (const event of events) assert.ok(!formatEvent(event).includes("\n"));
});
