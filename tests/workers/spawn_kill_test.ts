/**
 * Through the CLI (DESIGN.md, "Spawning"): a job's whole tree ends with it, also the
 * descendants that made their own session (`setsid cmd &`, double forks),
 * on a timeout, a cancel, when its shell exits, and after a crash of its
 * worker before the retry runs. `spawn_fallback_test.ts` runs this file again
 * with `QUEUECTL_SPAWN=fallback`.
 */
import assert from "node:assert/strict";
import { storeTest, waitFor } from "../_helpers.ts";
import {
  cliOk,
  configSet,
  enqueue,
  enqueueMany,
  isLive,
  killMatching,
  killWithWatchdog,
  msBetween,
  pidsMatching,
  read,
  runCliWithin,
  startWorker,
  uniqueSleep,
  waitForCount,
  waitForJob,
  waitForState,
  within,
  type WorkerProcess,
} from "./_worker_process.ts";

/** Waits until job `id` printed "running" (its start and output are recorded by then). */
async function waitForRunning(db: string, id: string, worker: WorkerProcess): Promise<void> {
  await waitFor(async () => (await read.logs(db, id))?.stdout.includes("running"), {
    timeoutMs: 15_000,
    message: `job ${id} to run\n${worker.log()}`,
  });
}

/** Ends what a failed test may have left, whatever the assertion that failed. */
async function cleanUp(...sleeps: string[]): Promise<void> {
  for (const sleep of sleeps) await killMatching(sleep);
}

storeTest(
  "a timeout ends a job at its time and every grandchild that called setsid itself",
  async (tmp) => {
    const escaped = uniqueSleep(30);
    const forked = uniqueSleep(31);
    const main = uniqueSleep(60);
    try {
      await enqueue(tmp.db, {
        id: "t",
        command: `setsid ${escaped} & (setsid ${forked} &); ${main}`,
        timeout: 1,
        max_retries: 0,
      });
      await using worker = await startWorker(tmp.db);
      const job = await waitForState(tmp.db, "t", "dead", { workers: [worker] });
      const run = job.runs[0]!;
      assert.equal(run.outcome, "timed_out", JSON.stringify(run));
      const took = msBetween(run.started_at, run.finished_at!);
      assert.ok(took >= 900 && took < 3000, `the attempt took ${took} ms, not about 1 s`);
      assert.deepEqual(await pidsMatching(escaped), [], "the setsid child outlived the timeout");
      assert.deepEqual(await pidsMatching(forked), [], "the double-forked child outlived it");
      assert.deepEqual(await pidsMatching(main), []);
    } finally {
      await cleanUp(escaped, forked, main);
    }
  },
);

storeTest(
  "a cancel ends a running job and the grandchild that called setsid itself",
  async (tmp) => {
    const escaped = uniqueSleep(30);
    const main = uniqueSleep(60);
    try {
      await enqueue(tmp.db, {
        id: "c",
        command: `(setsid ${escaped} &); echo running; ${main}`,
        max_retries: 0,
      });
      await using worker = await startWorker(tmp.db);
      await waitForRunning(tmp.db, "c", worker);
      assert.ok((await pidsMatching(escaped)).length > 0, "the grandchild is not running");
      await cliOk(["cancel", "c"], { db: tmp.db });
      const job = await waitForState(tmp.db, "c", "cancelled", { workers: [worker] });
      assert.equal(job.runs[0]?.outcome, "cancelled", JSON.stringify(job.runs));
      await waitFor(async () => (await pidsMatching(escaped)).length === 0, {
        timeoutMs: 3000,
        message: "the setsid grandchild to end with its cancelled job",
      });
      assert.deepEqual(await pidsMatching(main), []);
    } finally {
      await cleanUp(escaped, main);
    }
  },
);

storeTest(
  "worker stop --force ends a running job and the grandchild that called setsid itself",
  async (tmp) => {
    const escaped = uniqueSleep(30);
    const main = uniqueSleep(60);
    try {
      await enqueue(tmp.db, {
        id: "f",
        command: `(trap '' TERM; setsid ${escaped} &); echo running; ${main}`,
      });
      await using worker = await startWorker(tmp.db);
      await waitForRunning(tmp.db, "f", worker);
      assert.ok((await pidsMatching(escaped)).length > 0, "the grandchild is not running");
      const result = await runCliWithin(["worker", "stop", "--force"], { db: tmp.db }, 20_000);
      assert.equal(result.code, 0, result.stderr);
      const status = await within(worker.status, 5000);
      assert.ok(status, `the worker still runs after worker stop --force\n${worker.log()}`);
      assert.equal((await read.job(tmp.db, "f")).state, "pending");
      assert.deepEqual(await pidsMatching(escaped), [], "the setsid grandchild outlived the stop");
      assert.deepEqual(await pidsMatching(main), []);
    } finally {
      await cleanUp(escaped, main);
    }
  },
);

storeTest(
  "a job whose shell exits while a setsid child holds its output completes at once with exit 0",
  async (tmp) => {
    const escaped = uniqueSleep(30);
    try {
      await enqueue(tmp.db, { id: "bg", command: `setsid ${escaped} & echo hi`, timeout: 20 });
      await using worker = await startWorker(tmp.db);
      const job = await waitForState(tmp.db, "bg", "completed", {
        workers: [worker],
        timeoutMs: 15_000,
      });
      const run = job.runs[0]!;
      assert.equal(run.outcome, "succeeded");
      assert.equal(run.exit_code, 0);
      const took = msBetween(run.started_at, run.finished_at!);
      // Held open, it would end only at its 20 s timeout (or the child's 30 s);
      // the bound is loose because a loaded 2-core VM can take seconds to spawn.
      assert.ok(took < 10_000, `the job took ${took} ms: its setsid child kept it open`);
      assert.equal((await read.logs(tmp.db, "bg"))?.stdout, "hi\n");
      assert.deepEqual(await pidsMatching(escaped), [], "what the job left behind still runs");
    } finally {
      await cleanUp(escaped);
    }
  },
);

storeTest(
  "100 jobs each starting 3 background children leave no process behind",
  async (tmp) => {
    const child = uniqueSleep(30);
    try {
      await enqueueMany(
        tmp.db,
        Array.from({ length: 100 }, (_, i) => ({
          id: `many-${i}`,
          command: `${child} & setsid ${child} & (setsid ${child} &); echo ${i}`,
        })),
      );
      await using worker = await startWorker(tmp.db, ["--count", "4"]);
      await waitForCount(tmp.db, "completed", 100, { workers: [worker], timeoutMs: 60_000 });
      assert.deepEqual(await pidsMatching(child), [], "background children outlived their jobs");
    } finally {
      await cleanUp(child);
    }
  },
);

storeTest(
  "after SIGKILL of its worker, the orphans of a job whose shell already exited end before the retry",
  async (tmp) => {
    await configSet(tmp.db, "backoff_base", 1);
    const escaped = uniqueSleep(30);
    const forked = uniqueSleep(31);
    const pidFile = `${tmp.dir}/shell.pid`;
    // Attempt 1 leaves two session leaders behind and exits once its worker
    // is gone; attempt 2 fails if either is still alive when it runs.
    const command = `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then
  setsid ${escaped} & (setsid ${forked} &)
  echo $$ > '${pidFile}'; echo running
  i=0; while [ ! -f '${pidFile}.go' ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
  exit 0
fi
if pgrep -x -f '${escaped}' >/dev/null || pgrep -x -f '${forked}' >/dev/null; then
  echo "an orphan still runs" >&2; exit 3
fi
echo clean`;
    try {
      await enqueue(tmp.db, { id: "crash", command, max_retries: 1 });
      let shellPid = 0;
      {
        await using doomed = await startWorker(tmp.db);
        await waitFor(async () => (await read.logs(tmp.db, "crash"))?.stdout.includes("running"), {
          timeoutMs: 15_000,
          message: `job crash to run\n${doomed.log()}`,
        });
        shellPid = Number((await Deno.readTextFile(pidFile)).trim());
        // Its watchdog too (DESIGN.md, "Watchdog"), which would end the orphans at once.
        await killWithWatchdog(doomed.pid);
        assert.equal((await doomed.stop()).signal, "SIGKILL");
      }
      // The first attempt's shell exits now, its worker gone: only its orphans remain.
      await Deno.writeTextFile(`${pidFile}.go`, "");
      await waitFor(() => !isLive(shellPid), {
        timeoutMs: 5000,
        message: "the first attempt's shell to exit",
      });
      assert.equal((await pidsMatching(escaped)).length, 1, "the setsid orphan is not running");
      assert.equal(
        (await pidsMatching(forked)).length,
        1,
        "the double-forked orphan is not running",
      );

      await using rescuer = await startWorker(tmp.db);
      const job = await waitForJob(
        tmp.db,
        "crash",
        (j) => j.state === "completed" || j.state === "dead",
        {
          timeoutMs: 20_000,
          workers: [rescuer],
        },
      );
      assert.deepEqual(
        job.runs.map((r) => r.outcome),
        ["interrupted", "succeeded"],
        JSON.stringify(job.runs),
      );
      assert.equal((await read.logs(tmp.db, "crash"))?.stdout, "clean\n");
      assert.deepEqual(await pidsMatching(escaped), []);
      assert.deepEqual(await pidsMatching(forked), []);
    } finally {
      await cleanUp(escaped, forked);
    }
  },
);
