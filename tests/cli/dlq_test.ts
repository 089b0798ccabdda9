import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { cliJson, runCli, storeTest } from "../_helpers.ts";
import { addJobs, assertOk, JOB_FIELDS } from "./_cli.ts";

const HOUR = 3_600_000;

storeTest("dlq list shows the dead jobs only, newest first", async (tmp) => {
  const now = Date.now();
  await addJobs(tmp.db, [
    { id: "d-old", state: "dead", at: now - 2 * HOUR },
    { id: "f1", state: "failed" },
    { id: "d-new", state: "dead", at: now - HOUR },
    { id: "p1", state: "pending" },
  ]);
  const jobs = await cliJson<Job[]>(["dlq", "list"], { db: tmp.db });
  assert.deepEqual(jobs.map((j) => j.id), ["d-new", "d-old"]);
  for (const job of jobs) assert.deepEqual(Object.keys(job).sort(), JOB_FIELDS);
  const text = assertOk(await runCli(["dlq", "list"], { db: tmp.db }));
  assert.match(text, /^ID\s+STATE/);
  assert.match(text, /^d-new\s+dead/m);
  assert.doesNotMatch(text, /^f1/m);
  assert.equal(
    assertOk(await runCli(["dlq", "list", "--limit", "1", "--json"], { db: tmp.db }))
      .match(/"id"/g)?.length,
    1,
  );
});

storeTest(
  "dlq retry moves the given dead jobs back to pending with attempts reset",
  async (tmp) => {
    await addJobs(tmp.db, [{ id: "d1", state: "dead" }, { id: "d2", state: "dead" }]);
    // An id given twice is retried once.
    const out = assertOk(await runCli(["dlq", "retry", "d1", "d1"], { db: tmp.db }));
    assert.equal(out, "job d1 moved from the DLQ back to pending\n");
    const d1 = await cliJson<Job>(["show", "d1"], { db: tmp.db });
    assert.deepEqual([d1.state, d1.attempts], ["pending", 0]);
    const dead = await cliJson<Job[]>(["dlq", "list"], { db: tmp.db });
    assert.deepEqual(dead.map((j) => j.id), ["d2"]);
  },
);

storeTest("dlq retry --all moves every dead job back and says how many", async (tmp) => {
  await addJobs(tmp.db, [
    { id: "d1", state: "dead" },
    { id: "d2", state: "dead" },
    { id: "f1", state: "failed" },
  ]);
  const out = assertOk(await runCli(["dlq", "retry", "--all"], { db: tmp.db }));
  assert.equal(out, "moved 2 jobs from the DLQ back to pending\n");
  assert.deepEqual(await cliJson<Job[]>(["dlq", "list"], { db: tmp.db }), []);
  const f1 = await cliJson<Job>(["show", "f1"], { db: tmp.db });
  assert.equal(f1.state, "failed", "failed jobs are not in the DLQ");
  const again = assertOk(await runCli(["dlq", "retry", "--all"], { db: tmp.db }));
  assert.equal(again, "moved 0 jobs from the DLQ back to pending\n");
});

storeTest("dlq purge deletes the dead jobs and prints how many", async (tmp) => {
  await addJobs(tmp.db, [
    { id: "d1", state: "dead" },
    { id: "d2", state: "dead" },
    { id: "c1", state: "completed" },
  ]);
  assert.equal(assertOk(await runCli(["dlq", "purge"], { db: tmp.db })), "purged 2 dead jobs\n");
  const left = await cliJson<Job[]>(["list"], { db: tmp.db });
  assert.deepEqual(left.map((j) => j.id), ["c1"]);
  assert.equal(assertOk(await runCli(["dlq", "purge"], { db: tmp.db })), "purged 0 dead jobs\n");
});

storeTest("dlq purge --older-than deletes only jobs dead for longer than that", async (tmp) => {
  const now = Date.now();
  await addJobs(tmp.db, [
    { id: "d-old", state: "dead", at: now - 3 * HOUR },
    { id: "d-new", state: "dead", at: now - 60_000 },
  ]);
  assert.equal(
    assertOk(await runCli(["dlq", "purge", "--older-than", "2h"], { db: tmp.db })),
    "purged 1 dead job\n",
  );
  const dead = await cliJson<Job[]>(["dlq", "list"], { db: tmp.db });
  assert.deepEqual(dead.map((j) => j.id), ["d-new"]);
});
