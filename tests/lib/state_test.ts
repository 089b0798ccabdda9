import assert from "node:assert/strict";
import { ConflictError } from "../../lib/errors.ts";
import { JOB_STATES, type JobState, RUN_OUTCOMES, type RunOutcome } from "../../lib/job.ts";
import {
  bulkStates,
  canCancel,
  canDelete,
  canEdit,
  canHold,
  canRelease,
  canRetry,
  canTransition,
  decideAfterForcedStop,
  decideAfterRun,
  planCancel,
  planDelete,
  planEdit,
  planHold,
  planRelease,
  planReleaseTo,
  planRetry,
  retryOnRefusal,
} from "../../lib/state.ts";

const NOW = Date.UTC(2026, 10, 28, 10, 30, 0, 0);
const BACKOFF = { base: 2, max: 3600 };
const FAILURES: RunOutcome[] = ["failed", "timed_out", "spawn_failed", "interrupted"];

Deno.test("canTransition() allows exactly the documented transitions", () => {
  const legal: Record<JobState, JobState[]> = {
    pending: ["processing", "cancelled", "held"],
    blocked: ["pending", "cancelled", "held"],
    held: ["pending", "blocked", "failed", "cancelled"],
    processing: ["completed", "failed", "dead", "pending", "cancelled"],
    failed: ["processing", "pending", "cancelled", "dead", "held"],
    dead: ["pending"],
    completed: [],
    cancelled: ["pending", "blocked"],
  };
  for (const from of JOB_STATES) {
    for (const to of JOB_STATES) {
      assert.equal(
        canTransition(from, to),
        legal[from].includes(to),
        `${from} -> ${to} should be ${legal[from].includes(to) ? "legal" : "illegal"}`,
      );
    }
  }
});

Deno.test("canTransition() keeps completed jobs final; cancelled ones leave only by retry", () => {
  for (const to of JOB_STATES) {
    assert.equal(canTransition("completed", to), false);
    assert.equal(canTransition("cancelled", to), to === "pending" || to === "blocked", to);
  }
});

Deno.test("canTransition() lets a blocked job run only by becoming pending first", () => {
  assert.equal(canTransition("blocked", "processing"), false);
  assert.equal(canTransition("blocked", "completed"), false);
  assert.equal(canTransition("blocked", "pending"), true);
  assert.equal(canTransition("pending", "blocked"), false, "dependencies are fixed at enqueue");
});

Deno.test("canTransition() never lets a job skip the worker on its way to completed", () => {
  assert.equal(canTransition("pending", "completed"), false);
  assert.equal(canTransition("failed", "completed"), false);
  assert.equal(canTransition("dead", "processing"), false);
});

Deno.test("decideAfterRun() completes a job whose attempt succeeded", () => {
  assert.deepEqual(
    decideAfterRun({ outcome: "succeeded", attempt: 4, maxRetries: 3, now: NOW, backoff: BACKOFF }),
    { state: "completed", next_run_at: null },
  );
});

Deno.test("decideAfterRun() cancels a job whose attempt was cancelled, even with retries left", () => {
  assert.deepEqual(
    decideAfterRun({ outcome: "cancelled", attempt: 1, maxRetries: 3, now: NOW, backoff: BACKOFF }),
    { state: "cancelled", next_run_at: null },
  );
});

Deno.test("decideAfterRun() schedules a retry after base ^ attempt seconds while retries are left", () => {
  const decide = (attempt: number) =>
    decideAfterRun({ outcome: "failed", attempt, maxRetries: 3, now: NOW, backoff: BACKOFF });
  assert.deepEqual(decide(1), { state: "failed", next_run_at: NOW + 2000 });
  assert.deepEqual(decide(2), { state: "failed", next_run_at: NOW + 4000 });
  assert.deepEqual(decide(3), { state: "failed", next_run_at: NOW + 8000 });
});

Deno.test("decideAfterRun() moves a job to the DLQ when attempt max_retries + 1 fails", () => {
  assert.deepEqual(
    decideAfterRun({ outcome: "failed", attempt: 4, maxRetries: 3, now: NOW, backoff: BACKOFF }),
    { state: "dead", next_run_at: null },
  );
});

Deno.test("decideAfterRun() with max_retries 0 sends the first failure to the DLQ", () => {
  for (const outcome of FAILURES) {
    assert.deepEqual(
      decideAfterRun({ outcome, attempt: 1, maxRetries: 0, now: NOW, backoff: BACKOFF }),
      { state: "dead", next_run_at: null },
      outcome,
    );
  }
});

Deno.test("decideAfterRun() treats timeouts, spawn failures and interruptions as failures", () => {
  for (const outcome of FAILURES) {
    assert.deepEqual(
      decideAfterRun({ outcome, attempt: 2, maxRetries: 5, now: NOW, backoff: BACKOFF }),
      { state: "failed", next_run_at: NOW + 4000 },
      outcome,
    );
    assert.deepEqual(
      decideAfterRun({ outcome, attempt: 6, maxRetries: 5, now: NOW, backoff: BACKOFF }),
      { state: "dead", next_run_at: null },
      outcome,
    );
  }
});

Deno.test("decideAfterRun() caps the retry delay at backoff_max", () => {
  const decision = decideAfterRun({
    outcome: "failed",
    attempt: 12,
    maxRetries: 100,
    now: NOW,
    backoff: { base: 2, max: 60 },
  });
  assert.deepEqual(decision, { state: "failed", next_run_at: NOW + 60_000 });
});

Deno.test("decideAfterRun() with base 1 retries one second later every time", () => {
  for (const attempt of [1, 2, 7]) {
    const decision = decideAfterRun({
      outcome: "failed",
      attempt,
      maxRetries: 10,
      now: NOW,
      backoff: { base: 1, max: 3600 },
    });
    assert.deepEqual(decision, { state: "failed", next_run_at: NOW + 1000 });
  }
});

Deno.test("decideAfterRun() runs a job that always fails exactly max_retries + 1 times", () => {
  for (const maxRetries of [0, 1, 3, 10]) {
    let runs = 0;
    let now = NOW;
    for (;;) {
      runs++;
      const decision = decideAfterRun({
        outcome: "failed",
        attempt: runs,
        maxRetries,
        now,
        backoff: BACKOFF,
      });
      if (decision.state === "dead") break;
      assert.equal(decision.state, "failed");
      assert.ok(decision.next_run_at! > now, "a retry is scheduled in the future");
      now = decision.next_run_at!;
      assert.ok(runs <= 100, "the loop must end");
    }
    assert.equal(runs, maxRetries + 1, `max_retries ${maxRetries}`);
  }
});

Deno.test("decideAfterRun() decides every outcome into a legal transition from processing", () => {
  for (const outcome of RUN_OUTCOMES) {
    for (const attempt of [1, 4]) {
      const { state } = decideAfterRun({
        outcome,
        attempt,
        maxRetries: 3,
        now: NOW,
        backoff: BACKOFF,
      });
      assert.ok(canTransition("processing", state), `${outcome} -> ${state}`);
    }
  }
});

Deno.test("canRetry() holds for exactly the failed, dead and cancelled states", () => {
  const retryable: JobState[] = ["failed", "dead", "cancelled"];
  for (const state of JOB_STATES) {
    assert.equal(canRetry(state), retryable.includes(state), state);
  }
});

Deno.test("canCancel() holds for exactly the pending, blocked, held, processing and failed states", () => {
  const cancellable: JobState[] = ["pending", "blocked", "held", "processing", "failed"];
  for (const state of JOB_STATES) {
    assert.equal(canCancel(state), cancellable.includes(state), state);
  }
});

Deno.test("canRetry() and canCancel() say what planRetry() and planCancel() accept", () => {
  for (const state of JOB_STATES) {
    assert.equal(canRetry(state), !throws(() => planRetry("x", state)), `retry ${state}`);
    assert.equal(canCancel(state), !throws(() => planCancel("x", state)), `cancel ${state}`);
  }
});

function throws(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (error) {
    assert.ok(error instanceof ConflictError);
    return true;
  }
}

Deno.test("planRetry() runs a failed job again now and keeps its attempts", () => {
  assert.deepEqual(planRetry("j1", "failed"), { state: "pending", resetAttempts: false });
});

Deno.test("planRetry() starts a dead job over with attempts reset", () => {
  assert.deepEqual(planRetry("j1", "dead"), { state: "pending", resetAttempts: true });
});

Deno.test("planRetry() starts a cancelled job over with attempts reset", () => {
  assert.deepEqual(planRetry("j1", "cancelled"), { state: "pending", resetAttempts: true });
});

Deno.test("planRetry() refuses every other state with a conflict naming the state", () => {
  for (const state of ["pending", "blocked", "processing", "completed"] as const) {
    assert.throws(
      () => planRetry("job-7", state),
      (error: unknown) => {
        assert.ok(error instanceof ConflictError);
        assert.equal(error.exitCode, 1);
        assert.match(error.message, /"job-7"/);
        assert.match(error.message, new RegExp(`job is ${state}$`));
        return true;
      },
    );
  }
});

Deno.test("planCancel() cancels pending, blocked and failed jobs at once", () => {
  assert.equal(planCancel("j1", "pending"), "cancel");
  assert.equal(planCancel("j1", "blocked"), "cancel");
  assert.equal(planCancel("j1", "failed"), "cancel");
});

Deno.test("planCancel() asks the worker to stop a processing job first", () => {
  assert.equal(planCancel("j1", "processing"), "stop-first");
});

Deno.test("planCancel() refuses finished jobs with a conflict naming the state", () => {
  for (const state of ["completed", "dead", "cancelled"] as const) {
    assert.throws(
      () => planCancel("job-9", state),
      (error: unknown) => {
        assert.ok(error instanceof ConflictError);
        assert.equal(error.exitCode, 1);
        assert.match(error.message, /"job-9"/);
        assert.match(error.message, new RegExp(`job is ${state}$`));
        return true;
      },
    );
  }
});

Deno.test("planRetry() and planCancel() agree with canTransition()", () => {
  for (const state of JOB_STATES) {
    let retried = true;
    try {
      planRetry("x", state);
    } catch {
      retried = false;
    }
    assert.equal(
      retried,
      // held goes back to pending by release, not retry
      canTransition(state, "pending") && !["processing", "blocked", "held"].includes(state),
      state,
    );
    let cancelled: string | null = null;
    try {
      cancelled = planCancel("x", state);
    } catch {
      cancelled = null;
    }
    assert.equal(cancelled !== null, canTransition(state, "cancelled"), state);
  }
});

Deno.test("decideAfterForcedStop() puts the job back at once without counting the attempt", () => {
  const decision = decideAfterForcedStop(NOW);
  assert.deepEqual(decision, { state: "pending", next_run_at: NOW, uncountAttempt: true });
  assert.ok(canTransition("processing", decision.state));
});

const RETRY_ON = { maxRetries: 3, now: NOW, backoff: BACKOFF };

Deno.test("decideAfterRun() with retry_on retries a listed exit code within the budget", () => {
  assert.deepEqual(
    decideAfterRun({ ...RETRY_ON, outcome: "failed", attempt: 1, exitCode: 75, retryOn: [75] }),
    { state: "failed", next_run_at: NOW + 2000 },
  );
  // retry_on does not lift max_retries.
  assert.deepEqual(
    decideAfterRun({ ...RETRY_ON, outcome: "failed", attempt: 4, exitCode: 75, retryOn: [75] }),
    { state: "dead", next_run_at: null },
  );
});

Deno.test("decideAfterRun() with retry_on sends an unlisted exit code to the DLQ at once, saying why", () => {
  assert.deepEqual(
    decideAfterRun({ ...RETRY_ON, outcome: "failed", attempt: 1, exitCode: 2, retryOn: [75] }),
    { state: "dead", next_run_at: null, notRetried: "exit 2 is not in retry_on [75]; not retried" },
  );
});

Deno.test('decideAfterRun() with retry_on retries a timeout only when "timeout" is listed', () => {
  const timedOut = (retryOn: (number | "timeout")[]) =>
    decideAfterRun({ ...RETRY_ON, outcome: "timed_out", attempt: 1, exitCode: null, retryOn });
  assert.deepEqual(timedOut([75, "timeout"]), { state: "failed", next_run_at: NOW + 2000 });
  const refused = timedOut([75]);
  assert.equal(refused.state, "dead");
  assert.match(refused.notRetried!, /"timeout" is not in retry_on \[75\]; not retried/);
});

Deno.test("decideAfterRun() with retry_on does not retry a death by signal or a failed start", () => {
  for (const outcome of ["failed", "spawn_failed"] as const) {
    const decision = decideAfterRun({
      ...RETRY_ON,
      outcome,
      attempt: 1,
      exitCode: null,
      retryOn: [1, 75, "timeout"],
    });
    assert.equal(decision.state, "dead", outcome);
    assert.match(decision.notRetried!, /no exit code in retry_on \[1,75,"timeout"\]; not retried/);
  }
});

Deno.test("decideAfterRun() with retry_on still retries an interruption: not the job's failure", () => {
  assert.deepEqual(
    decideAfterRun({
      ...RETRY_ON,
      outcome: "interrupted",
      attempt: 1,
      exitCode: null,
      retryOn: [75],
    }),
    { state: "failed", next_run_at: NOW + 2000 },
  );
});

Deno.test("decideAfterRun() with retry_on leaves success and cancellation alone", () => {
  for (
    const [outcome, state] of [["succeeded", "completed"], ["cancelled", "cancelled"]] as const
  ) {
    assert.deepEqual(
      decideAfterRun({ ...RETRY_ON, outcome, attempt: 1, exitCode: 0, retryOn: [75] }),
      { state, next_run_at: null },
    );
  }
});

Deno.test("decideAfterRun() without retry_on (null) retries every failure, as before", () => {
  for (const outcome of FAILURES) {
    assert.deepEqual(
      decideAfterRun({ ...RETRY_ON, outcome, attempt: 1, exitCode: 2, retryOn: null }),
      { state: "failed", next_run_at: NOW + 2000 },
      outcome,
    );
  }
});

Deno.test("retryOnRefusal() judges each exit code against the list", () => {
  for (let code = 1; code <= 255; code++) {
    const refusal = retryOnRefusal("failed", code, [3, 75, 255]);
    assert.equal(refusal === null, [3, 75, 255].includes(code), `exit ${code}`);
  }
});

Deno.test("canHold(), canRelease(), canEdit() and canDelete() hold for exactly their states", () => {
  const expect = {
    hold: ["pending", "blocked", "failed"],
    release: ["held"],
    edit: ["pending", "blocked", "failed", "held"],
    delete: ["completed", "dead", "cancelled"],
  };
  for (const state of JOB_STATES) {
    assert.equal(canHold(state), expect.hold.includes(state), `hold ${state}`);
    assert.equal(canRelease(state), expect.release.includes(state), `release ${state}`);
    assert.equal(canEdit(state), expect.edit.includes(state), `edit ${state}`);
    assert.equal(canDelete(state), expect.delete.includes(state), `delete ${state}`);
  }
});

Deno.test("planHold(), planRelease(), planEdit() and planDelete() agree with the can*() rules", () => {
  for (const state of JOB_STATES) {
    assert.equal(canHold(state), !throws(() => planHold("x", state)), `hold ${state}`);
    assert.equal(canRelease(state), !throws(() => planRelease("x", state)), `release ${state}`);
    assert.equal(canEdit(state), !throws(() => planEdit("x", state)), `edit ${state}`);
    assert.equal(canDelete(state), !throws(() => planDelete("x", state)), `delete ${state}`);
  }
  // Every hold is a legal transition, and so is every way back.
  for (const state of JOB_STATES.filter(canHold)) {
    assert.ok(canTransition(state, "held"), state);
    assert.ok(canTransition("held", state), state);
  }
});

Deno.test("planEdit() refuses a running or final job with a conflict naming its state", () => {
  for (const state of ["processing", "completed", "dead", "cancelled"] as const) {
    assert.throws(
      () => planEdit("j", state),
      (e) => e instanceof ConflictError && e.message === `Cannot edit job "j": job is ${state}`,
    );
  }
});

Deno.test("planReleaseTo() puts a job back where it was; a passed due time means now", () => {
  assert.deepEqual(planReleaseTo("pending", 0, NOW - 5000, NOW), {
    state: "pending",
    next_run_at: NOW,
  });
  assert.deepEqual(planReleaseTo("failed", 0, NOW + 5000, NOW), {
    state: "failed",
    next_run_at: NOW + 5000,
  });
  assert.deepEqual(planReleaseTo("blocked", 2, NOW, NOW).state, "blocked");
  assert.deepEqual(planReleaseTo("blocked", 0, NOW, NOW).state, "pending", "deps done meanwhile");
});

Deno.test("bulkStates() takes each action's states from the can*() rules", () => {
  assert.deepEqual(bulkStates("cancel"), JOB_STATES.filter(canCancel));
  assert.deepEqual(bulkStates("retry"), ["failed", "dead", "cancelled"]);
  assert.deepEqual(bulkStates("delete"), ["completed", "dead", "cancelled"]);
  assert.deepEqual(bulkStates("hold"), ["pending", "blocked", "failed"]);
  assert.deepEqual(bulkStates("release"), ["held"]);
});
