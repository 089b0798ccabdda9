/** The five classic scenarios of the seed, black-box through the CLI with real worker processes. */
import assert from "node:assert/strict";
import { runCli, storeTest } from "../_helpers.ts";
import {
  cliOk,
  configSet,
  enqueue,
  enqueueMany,
  read,
  show,
  startWorker,
  waitForCount,
  waitForJob,
  waitForState,
} from "./_worker_process.ts";

storeTest("worker start runs an enqueued job to completed and exits 0 on SIGTERM", async (tmp) => {
  const id = await enqueue(tmp.db, { id: "ok1", command: "echo hello from ok1" });
  assert.equal(id, "ok1");
  await using worker = await startWorker(tmp.db);
  const job = await waitForState(tmp.db, "ok1", "completed", { workers: [worker], cli: true });
  assert.equal(job.attempts, 1);
  assert.equal(job.last_error, null);
  assert.equal(job.runs.length, 1);
  assert.equal(job.runs[0]!.outcome, "succeeded");
  assert.equal(job.runs[0]!.exit_code, 0);
  assert.equal((await cliOk(["logs", "ok1"], { db: tmp.db })).stdout, "hello from ok1\n");
  const status = await worker.stop();
  assert.equal(status.code, 0, worker.log());
  assert.match(worker.stdout(), /^worker-1 {2}job ok1 {2}started \(attempt 1\/4\)$/m);
  assert.match(worker.stdout(), /^worker-1 {2}job ok1 {2}completed in \d+ ms$/m);
});

storeTest("a failing job retries with backoff and lands in the DLQ", async (tmp) => {
  await configSet(tmp.db, "backoff_base", 1);
  await configSet(tmp.db, "backoff_jitter", 0); // exact delays in the log lines
  await enqueue(tmp.db, { id: "fail1", command: 'bash -c "exit 1"', max_retries: 2 });
  await using worker = await startWorker(tmp.db);
  const job = await waitForState(tmp.db, "fail1", "dead", { timeoutMs: 20_000, workers: [worker] });
  assert.equal(job.attempts, 3);
  assert.deepEqual(job.runs.map((r) => r.attempt), [1, 2, 3]);
  assert.deepEqual(job.runs.map((r) => r.outcome), ["failed", "failed", "failed"]);
  assert.deepEqual(job.runs.map((r) => r.exit_code), [1, 1, 1]);
  assert.equal(job.last_error, "exit code 1");
  const dlq = await cliOk(["dlq", "list", "--json"], { db: tmp.db });
  assert.deepEqual(JSON.parse(dlq.stdout).map((j: { id: string }) => j.id), ["fail1"]);
  assert.equal((await worker.stop()).code, 0, worker.log());
  assert.match(worker.stdout(), /job fail1 {2}failed \(exit 1\), retry 1\/2 in 1 s$/m);
  assert.match(worker.stdout(), /job fail1 {2}failed \(exit 1\); moved to DLQ after 3 attempts$/m);
});

storeTest(
  "a settings change reaches a running worker at once, not after its cache expires",
  async (tmp) => {
    await using worker = await startWorker(tmp.db);
    // The worker has read the settings as it started: a cached copy is what it holds.
    await configSet(tmp.db, "backoff_base", 1);
    await configSet(tmp.db, "backoff_jitter", 0);
    await configSet(tmp.db, "backoff_jitter", 0); // exact delays in the log lines
    await enqueue(tmp.db, { id: "base1", command: "exit 3", max_retries: 1 });
    await waitForState(tmp.db, "base1", "dead", { timeoutMs: 15_000, workers: [worker] });
    assert.equal((await worker.stop()).code, 0, worker.log());
    // backoff_base 1: the retry comes 1 s later (2 s with the old base of 2).
    assert.match(worker.stdout(), /job base1 {2}failed \(exit 3\), retry 1\/1 in 1 s$/m);
  },
);

storeTest("several workers share the queue without running a job twice", async (tmp) => {
  const file = `${tmp.dir}/ran.txt`;
  const ids = Array.from({ length: 12 }, (_, i) => `job${i}`);
  await enqueueMany(
    tmp.db,
    ids.map((id) => ({ id, command: `echo $QUEUECTL_JOB_ID >> ${file}; sleep 0.3` })),
  );
  await using worker = await startWorker(tmp.db, ["--count", "3"]);
  await waitForCount(tmp.db, "completed", ids.length, { workers: [worker] });
  assert.equal((await worker.stop()).code, 0, worker.log());

  const lines = (await Deno.readTextFile(file)).trim().split("\n");
  assert.deepEqual([...lines].sort(), [...ids].sort());
  const runs = await Promise.all(ids.map((id) => read.job(tmp.db, id)));
  const intervals = runs.map((job) => {
    assert.equal(job.runs.length, 1, `job ${job.id} ran ${job.runs.length} times`);
    const run = job.runs[0]!;
    return [Date.parse(run.started_at), Date.parse(run.finished_at!)] as const;
  });
  // The most attempts running at one moment: more than one, never more than --count.
  const peak = Math.max(
    ...intervals.map(([start]) => intervals.filter(([s, e]) => s <= start && start < e).length),
  );
  assert.ok(peak >= 2, `jobs never ran in parallel (peak ${peak})`);
  assert.ok(peak <= 3, `more than 3 jobs ran at once (peak ${peak})`);
});

storeTest(
  "an unknown command fails cleanly with exit 127 and a bad cwd is spawn_failed",
  async (tmp) => {
    await enqueue(tmp.db, { id: "nf", command: "no_such_command_qctl", max_retries: 0 });
    await enqueue(tmp.db, {
      id: "badcwd",
      command: "true",
      cwd: `${tmp.dir}/does/not/exist`,
      max_retries: 0,
    });
    await enqueue(tmp.db, { id: "after", command: "echo still running" });
    await using worker = await startWorker(tmp.db);

    const nf = await waitForState(tmp.db, "nf", "dead", { workers: [worker] });
    assert.equal(nf.runs.length, 1);
    assert.equal(nf.runs[0]!.outcome, "failed");
    assert.equal(nf.runs[0]!.exit_code, 127);
    assert.match(nf.last_error ?? "", /command not found/);
    const nfLogs = await runCli(["logs", "nf"], { db: tmp.db });
    assert.match(nfLogs.stderr, /no_such_command_qctl: (command )?not found/);

    const bad = await waitForState(tmp.db, "badcwd", "dead", { workers: [worker] });
    assert.equal(bad.runs[0]!.outcome, "spawn_failed");
    assert.equal(bad.runs[0]!.exit_code, null);
    assert.match(bad.last_error ?? "", /working directory ".*does\/not\/exist" does not exist/);

    await waitForState(tmp.db, "after", "completed", { workers: [worker] });
    assert.equal((await worker.stop()).code, 0, worker.log());
  },
);

storeTest("jobs and their history survive a worker restart", async (tmp) => {
  await enqueue(tmp.db, { id: "first", command: "echo one" });
  {
    await using worker = await startWorker(tmp.db);
    await waitForState(tmp.db, "first", "completed", { workers: [worker] });
    assert.equal((await worker.stop()).code, 0, worker.log());
  }
  await enqueue(tmp.db, { id: "second", command: "echo two" });
  const waiting = await show(tmp.db, "second");
  assert.equal(waiting.state, "pending");
  assert.equal(waiting.runs.length, 0);

  await using again = await startWorker(tmp.db);
  await waitForState(tmp.db, "second", "completed", { workers: [again] });
  const first = await waitForJob(tmp.db, "first", (j) => j.state === "completed");
  assert.equal(first.attempts, 1, "the finished job ran again after the restart");
  assert.equal(first.runs.length, 1);
  assert.equal((await cliOk(["logs", "first"], { db: tmp.db })).stdout, "one\n");
  const counts = (JSON.parse((await cliOk(["status", "--json"], { db: tmp.db })).stdout)).counts;
  assert.equal(counts.completed, 2);
  assert.equal(counts.pending, 0);
  assert.equal((await again.stop()).code, 0, again.log());
});
