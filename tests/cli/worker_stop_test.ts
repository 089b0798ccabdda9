/** `queuectl worker stop`: reaches workers started from another process, gracefully or by force. */
import assert from "node:assert/strict";
import { runCli, storeTest } from "../_helpers.ts";
import {
  cliOk,
  enqueue,
  killMatching,
  pidsMatching,
  runCliWithin,
  show,
  startWorker,
  uniqueSleep,
  waitForState,
  within,
  workerList,
} from "../workers/_worker_process.ts";

storeTest("worker stop with no worker running says so and exits 0", async (tmp) => {
  const result = await runCli(["worker", "stop"], { db: tmp.db });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /no workers running/);
});

storeTest("worker stop from another process stops a running worker, both exit 0", async (tmp) => {
  await using worker = await startWorker(tmp.db, ["--count", "2"]);
  const result = await runCliWithin(["worker", "stop", "--timeout", "20"], { db: tmp.db }, 25_000);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /asked 1 worker process to stop/);
  assert.match(result.stdout, /all workers stopped/);
  // When `worker stop` returns, the worker has gone.
  const status = await within(worker.status, 5000);
  assert.ok(status, `the worker still runs after worker stop\n${worker.log()}`);
  assert.equal(status.code, 0, worker.log());
  assert.deepEqual(await workerList(tmp.db), []);
});

storeTest("worker stop waits for the running job to finish", async (tmp) => {
  await enqueue(tmp.db, { id: "short", command: "sleep 1.5; echo ok" });
  await using worker = await startWorker(tmp.db);
  await waitForState(tmp.db, "short", "processing", { workers: [worker] });
  await cliOk(["worker", "stop"], { db: tmp.db });
  const job = await show(tmp.db, "short");
  assert.equal(job.state, "completed", "worker stop returned before the job finished");
  assert.equal((await worker.status).code, 0, worker.log());
});

storeTest(
  "worker stop --force puts the running job back as pending without counting the attempt",
  async (tmp) => {
    const sleep = uniqueSleep(36);
    try {
      await enqueue(tmp.db, { id: "long", command: sleep });
      await using worker = await startWorker(tmp.db);
      await waitForState(tmp.db, "long", "processing", { workers: [worker] });
      const result = await runCliWithin(["worker", "stop", "--force"], { db: tmp.db }, 20_000);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /all workers stopped/);
      const status = await within(worker.status, 5000);
      assert.ok(status, `the worker still runs after worker stop --force\n${worker.log()}`);
      assert.equal(status.code, 0, worker.log());

      const job = await show(tmp.db, "long");
      assert.equal(job.state, "pending");
      assert.equal(job.attempts, 0);
      assert.equal(job.runs.at(-1)!.outcome, "interrupted");
      assert.deepEqual(await pidsMatching(sleep), []);
    } finally {
      await killMatching(sleep);
    }
  },
);
