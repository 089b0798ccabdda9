import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { cliJson, runCli, storeTest } from "../_helpers.ts";
import { addJobs, assertOk, withStore } from "./_cli.ts";

storeTest("cancel cancels pending and failed jobs at once", async (tmp) => {
  await addJobs(tmp.db, [{ id: "f1", state: "failed" }, { id: "p1", state: "pending" }]);
  const out = assertOk(await runCli(["cancel", "p1", "f1"], { db: tmp.db }));
  assert.equal(out, "job p1 cancelled\njob f1 cancelled\n");
  const jobs = await cliJson<Job[]>(["list", "--state", "cancelled"], { db: tmp.db });
  assert.deepEqual(jobs.map((j) => [j.id, j.next_run_at]).sort(), [["f1", null], ["p1", null]]);
});

storeTest(
  "cancel of a running job asks its worker to stop it and leaves it running",
  async (tmp) => {
    await addJobs(tmp.db, [{ id: "r1", state: "processing" }]);
    const out = assertOk(await runCli(["cancel", "r1"], { db: tmp.db }));
    assert.match(out, /^job r1 is running; its worker will stop it/);
    const job = await cliJson<Job>(["show", "r1"], { db: tmp.db });
    assert.equal(job.state, "processing");
    const reply = await withStore(
      tmp.db,
      (store) => store.workerHeartbeat({ id: "test-worker", now: Date.now(), leaseMs: 30_000 }),
    );
    assert.deepEqual(reply.cancelRequested, ["r1"], "the worker hears of it at its next heartbeat");
  },
);

storeTest("cancel of an id given twice cancels it once", async (tmp) => {
  await addJobs(tmp.db, [{ id: "p1", state: "pending" }]);
  const out = assertOk(await runCli(["cancel", "p1", "p1"], { db: tmp.db }));
  assert.equal(out, "job p1 cancelled\n");
  assert.equal((await cliJson<Job>(["show", "p1"], { db: tmp.db })).state, "cancelled");
});
