import assert from "node:assert/strict";
import type { RunOutput } from "../../lib/job.ts";
import { cliJson, runCli, storeTest } from "../_helpers.ts";
import { addJobs, assertOk, withStore } from "./_cli.ts";

/** A job whose first attempt failed and whose second completed, each with its own output. */
async function twoAttempts(db: string): Promise<void> {
  const at = Date.now() - 60_000;
  await addJobs(db, [{
    id: "j1",
    state: "failed",
    at,
    stdout: "first out\n",
    stderr: "first err\n",
  }]);
  await withStore(db, async (store) => {
    await store.jobRetry({ ids: ["j1"], now: at + 2000 });
    const [claimed] = await store.jobClaim({
      workerId: "w2",
      queues: null,
      limit: 1,
      now: at + 2000,
      leaseMs: 60_000,
    });
    await store.runFinishMany({
      finishes: [{
        id: "j1",
        workerId: "w2",
        attempt: claimed!.attempt,
        outcome: "succeeded",
        exitCode: 0,
        signal: null,
        error: null,
        finishedAt: at + 2500,
        stdout: new TextEncoder().encode("second out\n"),
        stderr: new TextEncoder().encode("second err\n"),
        state: "completed",
        nextRunAt: null,
        uncountAttempt: false,
      }],
    });
  });
}

storeTest("logs prints the latest attempt's stdout to stdout and stderr to stderr", async (tmp) => {
  await twoAttempts(tmp.db);
  const result = await runCli(["logs", "j1"], { db: tmp.db });
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "second out\n");
  assert.equal(result.stderr, "second err\n");
});

storeTest("logs --attempt prints the output of that attempt", async (tmp) => {
  await twoAttempts(tmp.db);
  const result = await runCli(["logs", "j1", "--attempt", "1"], { db: tmp.db });
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "first out\n");
  assert.equal(result.stderr, "first err\n");
});

storeTest("logs --json prints { id, attempt, stdout, stderr }", async (tmp) => {
  await twoAttempts(tmp.db);
  assert.deepEqual(await cliJson<RunOutput>(["logs", "j1"], { db: tmp.db }), {
    id: "j1",
    attempt: 2,
    stdout: "second out\n",
    stderr: "second err\n",
  });
  assert.deepEqual(await cliJson<RunOutput>(["logs", "j1", "--attempt", "1"], { db: tmp.db }), {
    id: "j1",
    attempt: 1,
    stdout: "first out\n",
    stderr: "first err\n",
  });
});

storeTest("logs of an attempt that printed nothing prints nothing and succeeds", async (tmp) => {
  await addJobs(tmp.db, [{ id: "quiet", state: "completed" }]);
  const result = await runCli(["logs", "quiet"], { db: tmp.db });
  assertOk(result);
  assert.equal(result.stdout, "");
  assert.equal(result.stderr, "");
});
