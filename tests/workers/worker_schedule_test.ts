/** When jobs run: backoff between attempts, priority order, and `delay`. */
import assert from "node:assert/strict";
import { withTempDb } from "../_helpers.ts";
import {
  configSet,
  enqueue,
  enqueueMany,
  msBetween,
  read,
  startWorker,
  waitForCount,
  waitForState,
} from "./_worker_process.ts";

Deno.test("retries start about 2 s then 4 s apart with backoff base 2, then the job is dead", async () => {
  await using tmp = await withTempDb();
  await configSet(tmp.db, "backoff_jitter", 0); // exact delays: "about 2 s then 4 s"
  await enqueue(tmp.db, { id: "flaky", command: "exit 3", max_retries: 2 });
  await using worker = await startWorker(tmp.db);
  const job = await waitForState(tmp.db, "flaky", "dead", { timeoutMs: 20_000, workers: [worker] });
  assert.equal(job.attempts, 3);
  assert.deepEqual(job.runs.map((r) => r.attempt), [1, 2, 3]);
  assert.deepEqual(job.runs.map((r) => r.exit_code), [3, 3, 3]);
  const [first, second, third] = job.runs;
  // Backoff counts from the end of an attempt; the gaps between starts also hold its run time.
  const gaps = [
    msBetween(first!.started_at, second!.started_at),
    msBetween(second!.started_at, third!.started_at),
  ];
  assert.ok(Math.abs(gaps[0]! - 2000) <= 700, `first gap ${gaps[0]} ms, expected about 2000`);
  assert.ok(Math.abs(gaps[1]! - 4000) <= 700, `second gap ${gaps[1]} ms, expected about 4000`);
  // And never early: the next attempt starts no sooner than its backoff after the previous end.
  assert.ok(msBetween(first!.finished_at!, second!.started_at) >= 2000);
  assert.ok(msBetween(second!.finished_at!, third!.started_at) >= 4000);
  assert.equal((await worker.stop()).code, 0, worker.log());
  assert.match(worker.stdout(), /job flaky {2}failed \(exit 3\), retry 1\/2 in 2 s$/m);
  assert.match(worker.stdout(), /job flaky {2}failed \(exit 3\), retry 2\/2 in 4 s$/m);
  assert.match(worker.stdout(), /job flaky {2}failed \(exit 3\); moved to DLQ after 3 attempts$/m);
});

Deno.test("a worker runs waiting jobs by priority, higher first", async () => {
  await using tmp = await withTempDb();
  const jobs = [
    { id: "low-1", priority: 0 },
    { id: "low-2", priority: 0 },
    { id: "high-1", priority: 10 },
    { id: "mid", priority: 5 },
    { id: "high-2", priority: 10 },
    { id: "negative", priority: -1 },
  ];
  await enqueueMany(tmp.db, jobs.map((j) => ({ ...j, command: "true" })));
  await using worker = await startWorker(tmp.db, ["--count", "1"]);
  await waitForCount(tmp.db, "completed", jobs.length, { workers: [worker] });
  assert.equal((await worker.stop()).code, 0, worker.log());

  const started = await Promise.all(
    jobs.map(async ({ id }) => ({
      id,
      at: Date.parse((await read.job(tmp.db, id)).runs[0]!.started_at),
    })),
  );
  // Equal priorities keep the order they were enqueued in.
  const order = started.sort((a, b) => a.at - b.at).map((s) => s.id);
  assert.deepEqual(order, ["high-1", "high-2", "mid", "low-1", "low-2", "negative"]);
});

Deno.test("a job with delay 2 does not start before 2 s after it was enqueued", async () => {
  await using tmp = await withTempDb();
  await using worker = await startWorker(tmp.db);
  await enqueue(tmp.db, { id: "later", command: "true", delay: 2 });
  await enqueue(tmp.db, { id: "now", command: "true" });
  const now = await waitForState(tmp.db, "now", "completed", { workers: [worker] });
  const later = await waitForState(tmp.db, "later", "completed", { workers: [worker] });
  const wait = msBetween(later.created_at, later.runs[0]!.started_at);
  assert.ok(wait >= 2000, `started ${wait} ms after it was enqueued`);
  assert.ok(wait < 3500, `started ${wait} ms after it was enqueued: the worker slept past it`);
  assert.ok(Date.parse(now.runs[0]!.started_at) < Date.parse(later.runs[0]!.started_at));
  assert.equal((await worker.stop()).code, 0, worker.log());
});

Deno.test("a running worker sees a config change without a restart", async () => {
  await using tmp = await withTempDb();
  await using worker = await startWorker(tmp.db);
  await configSet(tmp.db, "max_retries", 0);
  // Due after the worker's settings cache (1 s) has expired.
  await enqueue(tmp.db, { id: "once", command: "exit 1", delay: 1.5 });
  const job = await waitForState(tmp.db, "once", "dead", { workers: [worker] });
  assert.equal(job.attempts, 1, "the worker still used max_retries 3");
  assert.equal((await worker.stop()).code, 0, worker.log());
  assert.match(worker.stdout(), /job once {2}started \(attempt 1\/1\)$/m);
});

Deno.test("worker start --queue runs only the jobs of its queues", async () => {
  await using tmp = await withTempDb();
  await enqueueMany(tmp.db, [
    { id: "mail-1", queue: "mail", command: "true" },
    { id: "video-1", queue: "video", command: "true" },
    { id: "default-1", command: "true" },
    { id: "report-1", queue: "report", command: "true" },
  ]);
  await using worker = await startWorker(tmp.db, ["--queue", "mail", "--queue", "report"]);
  await waitForState(tmp.db, "mail-1", "completed", { workers: [worker] });
  await waitForState(tmp.db, "report-1", "completed", { workers: [worker] });
  // A job of another queue enqueued now is not picked up either.
  await enqueue(tmp.db, { id: "video-2", queue: "video", command: "true" });
  await enqueue(tmp.db, { id: "mail-2", queue: "mail", command: "true" });
  await waitForState(tmp.db, "mail-2", "completed", { workers: [worker] });
  for (const id of ["video-1", "video-2", "default-1"]) {
    const job = await read.job(tmp.db, id);
    assert.equal(job.state, "pending", `job ${id} of another queue ran`);
  }
  assert.equal((await worker.stop()).code, 0, worker.log());
  assert.match(worker.stdout(), /started 1 worker on queues mail, report$/m);
});
