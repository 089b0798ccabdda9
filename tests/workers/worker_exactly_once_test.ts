/** Under concurrency every job runs exactly once (DESIGN.md, "Workers": no job is claimed twice). */
import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { cliJson, storeTest, waitFor } from "../_helpers.ts";
import { enqueueMany, read, startWorker, status, workerList } from "./_worker_process.ts";

storeTest("two worker processes with --count 4 run each of 500 jobs exactly once", async (tmp) => {
  const file = `${tmp.dir}/ran.txt`;
  await using a = await startWorker(tmp.db, ["--count", "4"]);
  await using b = await startWorker(tmp.db, ["--count", "4"]);
  const registered = await workerList(tmp.db);
  assert.deepEqual(registered.map((w) => w.pid).sort(), [a.pid, b.pid].sort());

  // Both are idle and waiting when the jobs arrive, so they compete for every claim.
  const ids = Array.from({ length: 500 }, (_, i) => `once-${String(i).padStart(3, "0")}`);
  await enqueueMany(tmp.db, ids.map((id) => ({ id, command: `echo $QUEUECTL_JOB_ID >> ${file}` })));

  const done = await waitFor(async () => {
    const stats = await read.status(tmp.db);
    return stats.counts.completed + stats.counts.failed + stats.counts.dead === 500 ? stats : null;
  }, { timeoutMs: 90_000, intervalMs: 100, message: `500 jobs to finish\n${a.log()}\n${b.log()}` });
  const stats = await status(tmp.db);
  assert.deepEqual(stats.counts, done.counts);
  assert.equal(stats.counts.completed, 500, JSON.stringify(stats.counts));
  assert.equal(done.counts.processing, 0);
  assert.equal(done.counts.pending, 0);

  const lines = (await Deno.readTextFile(file)).split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 500, "some job ran more than once or not at all");
  assert.deepEqual([...lines].sort(), ids);

  const jobs = await cliJson<Job[]>(["list", "--limit", "1000"], { db: tmp.db });
  assert.equal(jobs.length, 500);
  assert.ok(jobs.every((j) => j.attempts === 1), "a job took more than one attempt");
  const byWorker = new Set(jobs.map((j) => j.worker_id));
  assert.equal(byWorker.size, 2, `jobs ran on ${[...byWorker].join(", ")}`);

  assert.equal((await a.stop()).code, 0, a.log());
  assert.equal((await b.stop()).code, 0, b.log());
});
