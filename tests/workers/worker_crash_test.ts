/** Crash recovery (DESIGN.md, "Workers"): a worker killed with SIGKILL loses no job and leaves no orphan. */
import assert from "node:assert/strict";
import type { JobWithRuns } from "../../lib/job.ts";
import { storeTest, waitFor } from "../_helpers.ts";
import {
  configSet,
  enqueue,
  killMatching,
  killWithWatchdog,
  pidsMatching,
  read,
  startWorker,
  status,
  uniqueSleep,
  waitForJob,
  type WorkerProcess,
} from "./_worker_process.ts";

/** A job that hangs on its first attempt (printing "running" first) and succeeds after. */
function hangsOnce(sleep: string): string {
  return `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then echo running; ${sleep}; fi; echo done`;
}

/**
 * Waits until every job is running with its process started and recorded:
 * `logs` shows the "running" line only after the supervisor wrote the
 * attempt's process details (they are written before any output).
 */
async function waitUntilRunning(db: string, ids: string[], worker: WorkerProcess) {
  for (const id of ids) {
    await waitFor(async () => (await read.logs(db, id))?.stdout.includes("running"), {
      timeoutMs: 15_000,
      message: `job ${id} to run\n${worker.log()}`,
    });
  }
}

function assertInterruptedFirst(job: JobWithRuns): void {
  const first = job.runs[0];
  assert.ok(first, `job ${job.id} has no runs`);
  assert.equal(first.attempt, 1);
  assert.equal(first.outcome, "interrupted", JSON.stringify(job.runs));
  assert.notEqual(first.finished_at, null);
  assert.match(first.error ?? "", /interrupted/);
}

storeTest(
  "jobs of a worker killed with SIGKILL are recovered, retried, and their orphans ended",
  async (tmp) => {
    await configSet(tmp.db, "lease_timeout", 2);
    await configSet(tmp.db, "backoff_base", 1);
    const sleep = uniqueSleep(31);
    try {
      await enqueue(tmp.db, { id: "retried", command: hangsOnce(sleep), max_retries: 2 });
      await enqueue(tmp.db, { id: "last-chance", command: hangsOnce(sleep), max_retries: 0 });

      {
        await using doomed = await startWorker(tmp.db, ["--count", "2"]);
        await waitUntilRunning(tmp.db, ["retried", "last-chance"], doomed);
        assert.equal((await read.workers(tmp.db))[0]?.pid, doomed.pid);
        assert.equal(
          (await pidsMatching(sleep)).length > 0,
          true,
          "the job processes are not running",
        );
        // Its watchdog too (DESIGN.md, "Watchdog"), which would end the jobs within a second.
        await killWithWatchdog(doomed.pid);
        const killed = await doomed.stop();
        assert.equal(killed.signal, "SIGKILL");
      }
      // The jobs' process groups outlive the killed supervisor until someone recovers them.
      assert.ok(
        (await pidsMatching(sleep)).length > 0,
        "the orphaned job processes died with the worker",
      );
      // A worker that stopped renewing its heartbeat leaves `worker list` once its lease (2 s) is over.
      await waitFor(async () => (await read.workers(tmp.db)).length === 0, {
        timeoutMs: 5000,
        message: "the killed worker to leave worker list",
      });
      assert.deepEqual((await status(tmp.db)).workers, []);

      await using rescuer = await startWorker(tmp.db);
      const retried = await waitForJob(tmp.db, "retried", (j) => j.state === "completed", {
        timeoutMs: 20_000,
        workers: [rescuer],
      });
      assertInterruptedFirst(retried);
      assert.equal(retried.attempts, 2);
      assert.deepEqual(retried.runs.map((r) => r.outcome), ["interrupted", "succeeded"]);

      // Its last allowed attempt was interrupted: it counts as a failure, so the job is dead.
      const dead = await waitForJob(tmp.db, "last-chance", (j) => j.state === "dead", {
        workers: [rescuer],
      });
      assertInterruptedFirst(dead);
      assert.equal(dead.runs.length, 1);

      const stats = await status(tmp.db);
      assert.equal(stats.counts.processing, 0);
      await waitFor(async () => (await pidsMatching(sleep)).length === 0, {
        timeoutMs: 5000,
        message: `the orphaned "${sleep}" processes to end`,
      });
      assert.match(rescuer.stdout(), /job retried {2}interrupted \(worker \S+ died\)/);
      assert.equal((await rescuer.stop()).code, 0, rescuer.log());
    } finally {
      await killMatching(sleep);
    }
  },
);

storeTest(
  "a worker on the same host recovers a dead supervisor's jobs at once, not when the lease ends",
  async (tmp) => {
    await configSet(tmp.db, "lease_timeout", 30);
    await configSet(tmp.db, "backoff_base", 1);
    const sleep = uniqueSleep(32);
    try {
      await enqueue(tmp.db, { id: "stranded", command: hangsOnce(sleep), max_retries: 1 });
      {
        await using doomed = await startWorker(tmp.db);
        await waitUntilRunning(tmp.db, ["stranded"], doomed);
        doomed.kill("SIGKILL");
        await doomed.stop();
      }
      const spawnedAt = Date.now();
      await using rescuer = await startWorker(tmp.db);
      const registered = (await read.workers(tmp.db)).find((w) => w.pid === rescuer.pid);
      assert.ok(registered, "the new worker is not registered");
      const job = await waitForJob(tmp.db, "stranded", (j) => j.state === "completed", {
        timeoutMs: 10_000,
        workers: [rescuer],
      });
      assertInterruptedFirst(job);
      // The lease still had almost 30 s to run: only the dead pid explains a recovery this soon.
      const recoveredAt = Date.parse(job.runs[0]!.finished_at!);
      const afterStart = recoveredAt - Date.parse(registered.started_at);
      assert.ok(afterStart < 2500, `recovered ${afterStart} ms after the new worker started`);
      assert.ok(recoveredAt - spawnedAt < 10_000);
      assert.match(job.runs[0]!.error ?? "", /died/);
      await waitFor(async () => (await pidsMatching(sleep)).length === 0, {
        timeoutMs: 3000,
        message: `the orphaned "${sleep}" processes to end`,
      });
      assert.equal((await rescuer.stop()).code, 0, rescuer.log());
    } finally {
      await killMatching(sleep);
    }
  },
);
