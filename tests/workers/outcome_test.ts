import assert from "node:assert/strict";
import { describeOutcome, toRunOutcome } from "../../workers/outcome.ts";

Deno.test("toRunOutcome() maps every command outcome to its stored outcome", () => {
  assert.equal(toRunOutcome({ kind: "succeeded" }), "succeeded");
  assert.equal(toRunOutcome({ kind: "failed", exitCode: 1, signal: null }), "failed");
  assert.equal(toRunOutcome({ kind: "failed", exitCode: null, signal: "SIGKILL" }), "failed");
  assert.equal(toRunOutcome({ kind: "timedOut", seconds: 1 }), "timed_out");
  assert.equal(toRunOutcome({ kind: "spawnFailed", error: "x" }), "spawn_failed");
  assert.equal(toRunOutcome({ kind: "killed", reason: "cancel" }), "cancelled");
  assert.equal(toRunOutcome({ kind: "killed", reason: "force" }), "interrupted");
});

Deno.test("describeOutcome() is null on success", () => {
  assert.equal(describeOutcome({ kind: "succeeded" }), null);
});

Deno.test("describeOutcome() names the exit code, and command not found for 127", () => {
  assert.equal(describeOutcome({ kind: "failed", exitCode: 1, signal: null }), "exit code 1");
  assert.equal(describeOutcome({ kind: "failed", exitCode: 2, signal: null }), "exit code 2");
  assert.equal(
    describeOutcome({ kind: "failed", exitCode: 127, signal: null }),
    "exit code 127 (command not found)",
  );
});

Deno.test("describeOutcome() names the signal that killed the command", () => {
  assert.equal(
    describeOutcome({ kind: "failed", exitCode: null, signal: "SIGKILL" }),
    "killed by SIGKILL",
  );
});

Deno.test("describeOutcome() says how long a timed-out command ran, fractions kept", () => {
  assert.equal(describeOutcome({ kind: "timedOut", seconds: 1 }), "timed out after 1 s");
  assert.equal(describeOutcome({ kind: "timedOut", seconds: 0.5 }), "timed out after 0.5 s");
  assert.equal(describeOutcome({ kind: "timedOut", seconds: 90 }), "timed out after 90 s");
});

Deno.test("describeOutcome() keeps the spawn error and tells cancel from a forced stop", () => {
  assert.equal(
    describeOutcome({
      kind: "spawnFailed",
      error: 'cannot start: working directory "/x" does not exist',
    }),
    'cannot start: working directory "/x" does not exist',
  );
  assert.equal(describeOutcome({ kind: "killed", reason: "cancel" }), "cancelled while running");
  assert.equal(describeOutcome({ kind: "killed", reason: "force" }), "stopped by force");
});
