import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { cliJson, runCli, storeTest } from "../_helpers.ts";
import { addJobs, assertOk, JOB_FIELDS } from "./_cli.ts";

/** 60 jobs in one batch (one creation time) plus two made later. */
async function sixtyTwoJobs(db: string, dir: string): Promise<void> {
  const lines = Array.from(
    { length: 60 },
    (_, i) =>
      JSON.stringify({
        id: `job-${String(i).padStart(2, "0")}`,
        command: `echo ${i}`,
        queue: i % 3 === 0 ? "q3" : "default",
      }),
  );
  await Deno.writeTextFile(`${dir}/jobs.ndjson`, lines.join("\n"));
  assertOk(await runCli(["enqueue", "--file", `${dir}/jobs.ndjson`], { db }));
  assertOk(await runCli(["enqueue", '{"id":"a-late","command":"true"}'], { db }));
  assertOk(await runCli(["enqueue", '{"id":"b-later","command":"true"}'], { db }));
}

storeTest(
  "list shows 50 jobs newest first, ties newest enqueued first, and --limit changes how many",
  async (tmp) => {
    await sixtyTwoJobs(tmp.db, tmp.dir);
    const jobs = await cliJson<Job[]>(["list"], { db: tmp.db });
    assert.equal(jobs.length, 50);
    assert.deepEqual(jobs.slice(0, 4).map((j) => j.id), ["b-later", "a-late", "job-59", "job-58"]);
    assert.equal(jobs[49]?.id, "job-12");
    for (const job of jobs) assert.deepEqual(Object.keys(job).sort(), JOB_FIELDS);
    const three = await cliJson<Job[]>(["list", "--limit", "3"], { db: tmp.db });
    assert.deepEqual(three.map((j) => j.id), ["b-later", "a-late", "job-59"]);
    const all = await cliJson<Job[]>(["list", "--limit", "1000"], { db: tmp.db });
    assert.equal(all.length, 62);
    assert.equal(all[61]?.id, "job-00");
  },
);

storeTest("list --queue and --state keep only the matching jobs", async (tmp) => {
  await sixtyTwoJobs(tmp.db, tmp.dir);
  const q3 = await cliJson<Job[]>(["list", "--queue", "q3", "--limit", "100"], { db: tmp.db });
  assert.equal(q3.length, 20);
  assert.ok(q3.every((j) => j.queue === "q3"));
  assert.equal(q3[0]?.id, "job-57");
  assert.deepEqual(await cliJson<Job[]>(["list", "--queue", "nope"], { db: tmp.db }), []);
  assert.deepEqual(await cliJson<Job[]>(["list", "--state", "dead"], { db: tmp.db }), []);
  const pending = await cliJson<Job[]>(["list", "--state", "pending", "--queue", "q3"], {
    db: tmp.db,
  });
  assert.equal(pending.length, 20);
});

storeTest("list --state shows the jobs in that state only", async (tmp) => {
  await addJobs(tmp.db, [
    { id: "d1", state: "dead" },
    { id: "c1", state: "completed" },
    { id: "d2", state: "dead" },
    { id: "p1", state: "pending" },
  ]);
  const ids = async (state: string) =>
    (await cliJson<Job[]>(["list", "--state", state], { db: tmp.db })).map((j) => j.id).sort();
  assert.deepEqual(await ids("dead"), ["d1", "d2"]);
  assert.deepEqual(await ids("completed"), ["c1"]);
  assert.deepEqual(await ids("pending"), ["p1"]);
});

storeTest("list prints an aligned table with a header", async (tmp) => {
  assertOk(await runCli(["enqueue", '{"id":"short","command":"echo hi"}'], { db: tmp.db }));
  assertOk(
    await runCli(["enqueue", '{"id":"a-much-longer-id","command":"sleep 1","priority":12}'], {
      db: tmp.db,
    }),
  );
  const lines = assertOk(await runCli(["list"], { db: tmp.db })).trimEnd().split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^ID\s+STATE\s+TRIES\s+PRI\s+QUEUE\s+UPDATED\s+TAGS\s+COMMAND$/);
  assert.match(lines[1]!, /^a-much-longer-id\s+pending\s+0\s+12\s+default\s+.+\s+sleep 1$/);
  assert.match(lines[2]!, /^short\s+pending\s+0\s+0\s+default\s+.+\s+echo hi$/);
  const column = (line: string) => line.indexOf("pending");
  assert.equal(column(lines[1]!), lines[0]!.indexOf("STATE"));
  assert.equal(column(lines[2]!), lines[0]!.indexOf("STATE"));
});

storeTest("list on an empty database says there are no jobs, or prints []", async (tmp) => {
  assert.equal(assertOk(await runCli(["list"], { db: tmp.db })), "no jobs\n");
  assert.deepEqual(await cliJson<Job[]>(["list"], { db: tmp.db }), []);
});
