/** Jobs that misbehave: past their timeout, flooding stdout, cancelled while running. */
import assert from "node:assert/strict";
import type { RunOutput } from "../../lib/job.ts";
import { cliJson, storeTest, waitFor } from "../_helpers.ts";
import {
  cliOk,
  configSet,
  enqueue,
  killMatching,
  pidsMatching,
  startWorker,
  uniqueSleep,
  waitForState,
} from "./_worker_process.ts";

storeTest(
  "a job past its timeout fails as timed_out within seconds and leaves no process behind",
  async (tmp) => {
    const sleep = uniqueSleep(30);
    try {
      await enqueue(tmp.db, {
        id: "slow",
        command: `sh -c '${sleep} & ${sleep}'`,
        timeout: 1,
        max_retries: 0,
      });
      await using worker = await startWorker(tmp.db);
      const job = await waitForState(tmp.db, "slow", "dead", {
        timeoutMs: 10_000,
        workers: [worker],
      });
      const run = job.runs[0]!;
      assert.equal(run.outcome, "timed_out");
      assert.equal(run.error, "timed out after 1 s");
      assert.equal(job.last_error, "timed out after 1 s");
      // SIGTERM reaches the whole group at once, so the grace of 3 s is not needed.
      assert.ok(run.duration_ms! >= 1000 && run.duration_ms! < 3000, `ran ${run.duration_ms} ms`);
      assert.deepEqual(await pidsMatching(sleep), [], "a sleep of the timed-out job survived");
      assert.match(
        worker.stdout(),
        /job slow {2}timed out after 1 s; moved to DLQ after 1 attempt$/m,
      );
      assert.equal((await worker.stop()).code, 0, worker.log());
    } finally {
      await killMatching(sleep);
    }
  },
);

storeTest("a job that ignores SIGTERM past its timeout is killed after the grace", async (tmp) => {
  const sleep = uniqueSleep(33);
  try {
    await enqueue(tmp.db, {
      id: "stubborn",
      command: `trap '' TERM; ${sleep}`,
      timeout: 0.5,
      max_retries: 0,
    });
    await using worker = await startWorker(tmp.db);
    const job = await waitForState(tmp.db, "stubborn", "dead", {
      timeoutMs: 15_000,
      workers: [worker],
    });
    const run = job.runs[0]!;
    assert.equal(run.outcome, "timed_out");
    assert.equal(run.error, "timed out after 0.5 s");
    assert.ok(run.duration_ms! >= 3000 && run.duration_ms! < 6000, `ran ${run.duration_ms} ms`);
    assert.deepEqual(await pidsMatching(sleep), []);
    assert.equal((await worker.stop()).code, 0, worker.log());
  } finally {
    await killMatching(sleep);
  }
});

storeTest(
  "a job writing 100 MB to stdout keeps the last 65536 bytes and the worker goes on",
  async (tmp) => {
    await enqueue(tmp.db, {
      id: "flood",
      command: "head -c 100000000 /dev/zero | tr '\\0' x; printf END",
    });
    await using worker = await startWorker(tmp.db);
    const job = await waitForState(tmp.db, "flood", "completed", {
      timeoutMs: 30_000,
      workers: [worker],
    });
    assert.equal(job.runs[0]!.outcome, "succeeded");
    const logs = await cliJson<RunOutput>(["logs", "flood"], { db: tmp.db });
    assert.equal(logs.stdout.length, 65536);
    assert.ok(logs.stdout.endsWith("xxxEND"), `kept ${logs.stdout.slice(-20)}`);
    assert.equal(logs.stdout.replace(/x/g, ""), "END");

    await enqueue(tmp.db, { id: "next", command: "echo next" });
    await waitForState(tmp.db, "next", "completed", { workers: [worker] });
    assert.equal((await cliOk(["logs", "next"], { db: tmp.db })).stdout, "next\n");
    assert.equal((await worker.stop()).code, 0, worker.log());
  },
);

storeTest("cancel of a running job stops its processes and ends it cancelled", async (tmp) => {
  await configSet(tmp.db, "lease_timeout", 2);
  const sleep = uniqueSleep(34);
  try {
    await enqueue(tmp.db, { id: "victim", command: `echo started; ${sleep}` });
    await using worker = await startWorker(tmp.db);
    await waitForState(tmp.db, "victim", "processing", { workers: [worker] });
    await waitFor(async () => (await pidsMatching(sleep)).length > 0, {
      message: "the job's sleep to start",
    });
    const cancelled = await cliOk(["cancel", "victim"], { db: tmp.db });
    assert.match(cancelled.stdout, /victim is running/);
    const job = await waitForState(tmp.db, "victim", "cancelled", {
      timeoutMs: 10_000,
      workers: [worker],
    });
    assert.equal(job.runs.length, 1);
    assert.equal(job.runs[0]!.outcome, "cancelled");
    assert.equal(job.next_run_at, null);
    await waitFor(async () => (await pidsMatching(sleep)).length === 0, {
      timeoutMs: 2000,
      message: "the cancelled job's sleep to end",
    });
    // The worker is still serving the queue.
    await enqueue(tmp.db, { id: "after", command: "true" });
    await waitForState(tmp.db, "after", "completed", { workers: [worker] });
    assert.equal((await worker.stop()).code, 0, worker.log());
  } finally {
    await killMatching(sleep);
  }
});
