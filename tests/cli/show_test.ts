import assert from "node:assert/strict";
import type { JobWithRuns } from "../../lib/job.ts";
import { cliJson, runCli, storeTest } from "../_helpers.ts";
import { addJobs, assertOk, ISO_TIME, JOB_FIELDS, RUN_FIELDS, withStore } from "./_cli.ts";

storeTest(
  "show --json prints the job with every field and a runs array per attempt",
  async (tmp) => {
    const at = Date.now() - 60_000;
    await addJobs(tmp.db, [{ id: "f1", state: "failed", maxRetries: 2, at }]);
    const job = await cliJson<JobWithRuns>(["show", "f1"], { db: tmp.db });
    assert.deepEqual(
      Object.keys(job).sort(),
      [...JOB_FIELDS, "runs", "dependencies", "dependents"].sort(),
    );
    assert.equal(job.state, "failed");
    assert.equal(job.attempts, 1);
    assert.equal(job.max_retries, 2);
    assert.equal(job.last_error, "exit code 1");
    assert.equal(job.worker_id, "test-worker");
    assert.equal(job.runs.length, 1);
    const [run] = job.runs;
    assert.deepEqual(Object.keys(run!).sort(), RUN_FIELDS);
    assert.deepEqual(run, {
      attempt: 1,
      started_at: new Date(at).toISOString(),
      finished_at: new Date(at + 1500).toISOString(),
      duration_ms: 1500,
      outcome: "failed",
      exit_code: 1,
      signal: null,
      error: "exit code 1",
      worker_id: "test-worker",
      hook: null,
    });
    assert.match(run!.started_at, ISO_TIME);
  },
);

storeTest("show --json lists every attempt in order, the running one unfinished", async (tmp) => {
  const at = Date.now() - 60_000;
  await addJobs(tmp.db, [{ id: "f1", state: "failed", at }]);
  await withStore(tmp.db, async (store) => {
    await store.jobRetry({ ids: ["f1"], now: at + 2000 });
    await store.jobClaim({
      workerId: "w2",
      queues: null,
      limit: 1,
      now: at + 3000,
      leaseMs: 60_000,
    });
  });
  const job = await cliJson<JobWithRuns>(["show", "f1"], { db: tmp.db });
  assert.equal(job.state, "processing");
  assert.deepEqual(job.runs.map((r) => [r.attempt, r.outcome, r.worker_id]), [
    [1, "failed", "test-worker"],
    [2, null, "w2"],
  ]);
  assert.equal(job.runs[1]?.finished_at, null);
  assert.equal(job.runs[1]?.duration_ms, null);
});

storeTest("show prints every field and a table of attempts as text", async (tmp) => {
  await addJobs(tmp.db, [
    { id: "d1", state: "dead", command: "bash -c 'exit 1'" },
    { id: "p1", state: "pending" },
  ]);
  const out = assertOk(await runCli(["show", "d1"], { db: tmp.db }));
  for (const field of JOB_FIELDS) assert.match(out, new RegExp(`^${field}:`, "m"), field);
  assert.match(out, /^command:\s+bash -c 'exit 1'$/m);
  assert.match(out, /^state:\s+dead$/m);
  assert.match(out, /^cwd:\s+-$/m, "unset fields show a dash");
  assert.match(out, /^ATTEMPT\s+STARTED\s+DURATION\s+OUTCOME\s+EXIT\s+WORKER\s+ERROR$/m);
  assert.match(out, /^1\s+\S+Z\s+1500 ms\s+failed\s+1\s+test-worker\s+exit code 1$/m);
  const fresh = assertOk(await runCli(["show", "p1"], { db: tmp.db }));
  assert.match(fresh, /no attempts yet/);
});

storeTest(
  "show prints flow control fields as text, after_any with its jobs' states",
  async (tmp) => {
    assertOk(await runCli(["enqueue", "--id", "a", "--", "true"], { db: tmp.db }));
    assertOk(await runCli(["enqueue", "--id", "b", "--", "true"], { db: tmp.db }));
    assertOk(
      await runCli([
        "enqueue",
        "--id",
        "c",
        "--after",
        "a",
        "--after-any",
        "b",
        "--group",
        "tenant-1",
        "--expires-at",
        "2099-01-01T00:00:00Z",
        "--backoff-base",
        "3",
        "--backoff-max",
        "120",
        "--",
        "true",
      ], { db: tmp.db }),
    );
    const out = assertOk(await runCli(["show", "c"], { db: tmp.db }));
    assert.match(out, /^after:\s+a \(pending\)$/m, "after lists only its own jobs");
    assert.match(out, /^after_any:\s+b \(pending\)$/m);
    assert.match(out, /^group:\s+tenant-1$/m);
    assert.match(out, /^expires_at:\s+2099-01-01T00:00:00.000Z$/m);
    assert.match(out, /^backoff_base:\s+3$/m);
    assert.match(out, /^backoff_max:\s+120$/m);
  },
);
