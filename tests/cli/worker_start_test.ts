/** `queuectl worker start`: bad options, and stopping by signal (graceful, then forced). */
import assert from "node:assert/strict";
import { storeTest, withTempDb } from "../_helpers.ts";
import {
  enqueue,
  killMatching,
  pidsMatching,
  runCliWithin,
  show,
  startWorker,
  uniqueSleep,
  waitForJob,
  waitForState,
  workerList,
} from "../workers/_worker_process.ts";

for (
  const args of [
    ["--count", "0"],
    ["--count", "-1"],
    ["--count", "100000"],
    ["--count", "abc"],
    ["--count", "1.5"],
    ["--queue", "bad name!"],
  ]
) {
  Deno.test(`worker start ${args.join(" ")} is a usage error (exit 2, one line)`, async () => {
    await using tmp = await withTempDb();
    const result = await runCliWithin(["worker", "start", ...args], { db: tmp.db }, 15_000);
    assert.equal(result.timedOut, false, "the worker started instead of refusing");
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^error: Invalid (worker count|queue name) "/);
    assert.ok(lines[0]!.includes(args[1]!), lines[0]!);
    assert.deepEqual(await workerList(tmp.db), []);
  });
}

storeTest("SIGTERM lets the running job finish, then the worker exits 0", async (tmp) => {
  await enqueue(tmp.db, { id: "two-seconds", command: "sleep 2; echo finished" });
  await enqueue(tmp.db, { id: "waiting", command: "true", priority: -1 });
  await using worker = await startWorker(tmp.db);
  await waitForState(tmp.db, "two-seconds", "processing", { workers: [worker] });
  const signalledAt = Date.now();
  worker.kill("SIGTERM");
  const status = await worker.status;
  assert.equal(status.code, 0, worker.log());
  assert.ok(Date.now() - signalledAt < 6000, "the worker took too long to stop");
  await worker.stop();

  const job = await show(tmp.db, "two-seconds");
  assert.equal(job.state, "completed");
  assert.equal(job.attempts, 1);
  assert.equal(job.runs[0]!.outcome, "succeeded");
  assert.ok(job.runs[0]!.duration_ms! >= 2000, `ran ${job.runs[0]!.duration_ms} ms`);
  // Nothing more was claimed after the signal.
  const waiting = await show(tmp.db, "waiting");
  assert.equal(waiting.state, "pending");
  assert.equal(waiting.attempts, 0);
  assert.match(worker.stdout(), /^stopping: waiting for 1 running job to finish/m);
  assert.deepEqual(await workerList(tmp.db), []);
});

storeTest(
  "a second SIGTERM ends the running job and puts it back as pending, uncounted",
  async (tmp) => {
    const sleep = uniqueSleep(35);
    try {
      await enqueue(tmp.db, { id: "long", command: `echo started; ${sleep}` });
      await using worker = await startWorker(tmp.db);
      await waitForState(tmp.db, "long", "processing", { workers: [worker] });
      worker.kill("SIGTERM");
      await worker.waitForOutput(/^stopping: waiting for 1 running job/m);
      worker.kill("SIGTERM");
      const status = await worker.status;
      assert.equal(status.code, 0, worker.log());
      await worker.stop();
      assert.match(worker.stdout(), /job long {2}stopped, back to pending$/m);

      const job = await show(tmp.db, "long");
      assert.equal(job.state, "pending");
      assert.equal(job.attempts, 0, "the forced stop counted the attempt");
      assert.equal(job.runs.length, 1);
      assert.equal(job.runs[0]!.outcome, "interrupted");
      assert.deepEqual(await pidsMatching(sleep), [], "the job's sleep outlived the forced stop");

      // It runs again (as attempt 1) on the next worker.
      await using next = await startWorker(tmp.db);
      const again = await waitForJob(
        tmp.db,
        "long",
        (j) => j.state === "processing" && j.runs.length === 2,
        { workers: [next] },
      );
      assert.equal(again.attempts, 1);
      assert.equal(again.runs[1]!.attempt, 1);
      next.kill("SIGTERM");
      await next.waitForOutput(/^stopping: waiting for 1 running job/m);
      next.kill("SIGTERM");
      assert.equal((await next.stop()).code, 0, next.log());
    } finally {
      await killMatching(sleep);
    }
  },
);

function alive(pid: number): boolean {
  try {
    return !Deno.readTextFileSync(`/proc/${pid}/stat`).includes(") Z ");
  } catch {
    return false;
  }
}

Deno.test("worker start --detach returns at once and worker stop ends the background worker", async () => {
  await using tmp = await withTempDb();
  let pid = 0;
  try {
    const started = await runCliWithin(["worker", "start", "--detach"], { db: tmp.db }, 20_000);
    assert.equal(started.timedOut, false, "worker start --detach did not return");
    assert.equal(started.code, 0, started.stderr);
    const match = started.stdout.match(/in the background \(pid (\d+)\); log: (.+)$/m);
    assert.ok(match, started.stdout);
    pid = Number(match[1]);
    assert.equal(match[2], `${tmp.db}.worker.log`);
    assert.deepEqual((await workerList(tmp.db)).map((w) => w.pid), [pid]);

    await enqueue(tmp.db, { id: "bg", command: "echo in the background" });
    await waitForState(tmp.db, "bg", "completed");

    const stopped = await runCliWithin(["worker", "stop"], { db: tmp.db }, 20_000);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /all workers stopped/);
    assert.equal(alive(pid), false, "the background worker still runs");
    const log = await Deno.readTextFile(`${tmp.db}.worker.log`);
    assert.match(log, /job bg {2}completed in \d+ ms/);
    assert.match(log, /supervisor \S+ stopped/);
  } finally {
    if (pid > 0 && alive(pid)) Deno.kill(pid, "SIGKILL");
  }
});
