/** `queuectl worker list` and the workers of `status`: the running worker processes. */
import assert from "node:assert/strict";
import { runCli, storeTest } from "../_helpers.ts";
import { hostId } from "../../lib/host_id.ts";
import {
  enqueue,
  killMatching,
  startWorker,
  status,
  uniqueSleep,
  waitForState,
  workerList,
} from "../workers/_worker_process.ts";

storeTest(
  "worker list and status show a running worker with its pid, host and current job",
  async (tmp) => {
    const sleep = uniqueSleep(37);
    try {
      assert.deepEqual(await workerList(tmp.db), []);
      assert.deepEqual((await status(tmp.db)).workers, []);
      const none = await runCli(["worker", "list"], { db: tmp.db });
      assert.equal(none.code, 0);
      assert.match(none.stdout, /no workers running/);

      await enqueue(tmp.db, { id: "busy", command: sleep });
      await using worker = await startWorker(tmp.db, ["--count", "2", "--queue", "default"]);
      await waitForState(tmp.db, "busy", "processing", { workers: [worker] });

      const [listed, ...others] = await workerList(tmp.db);
      assert.ok(listed, "worker list is empty while a worker runs");
      assert.deepEqual(others, []);
      assert.equal(listed.pid, worker.pid);
      assert.equal(listed.host, hostId());
      assert.equal(listed.count, 2);
      assert.deepEqual(listed.queues, ["default"]);
      assert.deepEqual(listed.current_jobs, ["busy"]);
      assert.ok(!Number.isNaN(Date.parse(listed.started_at)));

      const job = await waitForState(tmp.db, "busy", "processing");
      assert.equal(job.worker_id, listed.id);

      const stats = await status(tmp.db);
      assert.equal(stats.workers.length, 1);
      assert.equal(stats.workers[0]!.pid, worker.pid);
      assert.deepEqual(stats.workers[0]!.current_jobs, ["busy"]);

      const text = await runCli(["worker", "list"], { db: tmp.db });
      assert.equal(text.code, 0);
      assert.ok(text.stdout.includes(String(worker.pid)), text.stdout);
      assert.ok(text.stdout.includes("busy"), text.stdout);

      worker.kill("SIGTERM");
      await worker.waitForOutput(/^stopping: waiting for 1 running job/m);
      worker.kill("SIGTERM");
      assert.equal((await worker.stop()).code, 0, worker.log());
      assert.deepEqual(await workerList(tmp.db), []);
      assert.deepEqual((await status(tmp.db)).workers, []);
    } finally {
      await killMatching(sleep);
    }
  },
);
