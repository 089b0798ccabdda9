import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { cliJson, runCli, storeTest } from "../_helpers.ts";
import { addJobs, assertOk } from "./_cli.ts";

storeTest("retry runs a failed job again now and keeps its attempts", async (tmp) => {
  await addJobs(tmp.db, [{ id: "f1", state: "failed" }]);
  const before = Date.now();
  const out = assertOk(await runCli(["retry", "f1"], { db: tmp.db }));
  assert.equal(out, "job f1 is pending again (attempts so far: 1)\n");
  const job = await cliJson<Job>(["show", "f1"], { db: tmp.db });
  assert.equal(job.state, "pending");
  assert.equal(job.attempts, 1);
  assert.ok(Date.parse(job.next_run_at!) >= before - 5, "due now, not at its backoff time");
  assert.ok(Date.parse(job.next_run_at!) <= Date.now());
});

storeTest("retry of a dead job starts it over, as dlq retry does", async (tmp) => {
  await addJobs(tmp.db, [{ id: "d1", state: "dead" }]);
  assertOk(await runCli(["retry", "d1"], { db: tmp.db }));
  const job = await cliJson<Job>(["show", "d1"], { db: tmp.db });
  assert.equal(job.state, "pending");
  assert.equal(job.attempts, 0);
});

storeTest("retry takes several ids and prints a line for each", async (tmp) => {
  await addJobs(tmp.db, [
    { id: "f1", state: "failed" },
    { id: "d1", state: "dead" },
    { id: "p1", state: "pending" },
  ]);
  const out = assertOk(await runCli(["retry", "f1", "d1"], { db: tmp.db }));
  assert.deepEqual(out.trimEnd().split("\n"), [
    "job f1 is pending again (attempts so far: 1)",
    "job d1 is pending again (attempts so far: 0)",
  ]);
  const pending = await cliJson<Job[]>(["list", "--state", "pending"], { db: tmp.db });
  assert.deepEqual(pending.map((j) => j.id).sort(), ["d1", "f1", "p1"]);
});

storeTest("retry of an id given twice retries it once", async (tmp) => {
  await addJobs(tmp.db, [{ id: "f1", state: "failed" }]);
  const out = assertOk(await runCli(["retry", "f1", "f1"], { db: tmp.db }));
  assert.equal(out, "job f1 is pending again (attempts so far: 1)\n");
  assert.equal((await cliJson<Job>(["show", "f1"], { db: tmp.db })).state, "pending");
});
