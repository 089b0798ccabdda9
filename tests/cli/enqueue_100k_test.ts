/** A batch of 100,000 jobs goes in with one call and comes back intact: correctness, not timing. */
import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import type { Stats } from "../../lib/stats.ts";
import { cliJson, runCli, withTempDb } from "../_helpers.ts";
import { assertOk, withStore } from "./_cli.ts";

const N = 100_000;
const idOf = (i: number) => `job-${String(i).padStart(6, "0")}`;
const jobOf = (i: number) => ({
  id: idOf(i),
  command: `echo ${i}`,
  priority: i % 7,
  ...(i % 10 === 0 ? { queue: "tenth" } : {}),
});

Deno.test("enqueue --file adds 100,000 jobs in one call and they read back intact", async () => {
  await using tmp = await withTempDb();
  const path = `${tmp.dir}/jobs.ndjson`;
  const lines: string[] = [];
  for (let i = 0; i < N; i++) lines.push(JSON.stringify(jobOf(i)));
  await Deno.writeTextFile(path, lines.join("\n") + "\n");

  const out = assertOk(await runCli(["enqueue", "--file", path], { db: tmp.db }));
  assert.equal(out, "enqueued 100000 jobs\n");

  const stats = await cliJson<Stats>(["status"], { db: tmp.db });
  assert.equal(stats.counts.pending, N);
  assert.equal(
    Object.values(stats.counts).reduce((a, b) => a + b, 0),
    N,
    "every job is pending",
  );

  // One batch shares one creation time, so newest first falls back to ids, descending.
  const newest = await cliJson<Job[]>(["list", "--limit", "3"], { db: tmp.db });
  assert.deepEqual(newest.map((j) => j.id), [idOf(99_999), idOf(99_998), idOf(99_997)]);
  const tenth = await cliJson<Job[]>(["list", "--queue", "tenth", "--limit", "2"], { db: tmp.db });
  assert.deepEqual(tenth.map((j) => j.id), [idOf(99_990), idOf(99_980)]);
  const middle = await cliJson<Job>(["show", idOf(54_321)], { db: tmp.db });
  assert.deepEqual(
    [middle.id, middle.command, middle.priority, middle.queue, middle.state],
    [idOf(54_321), "echo 54321", 54_321 % 7, "default", "pending"],
  );

  // Every job, read straight from the store, is exactly the line it came from.
  await withStore(tmp.db, async (store) => {
    const { jobs, nextCursor } = await store.jobList({ limit: N + 1 });
    assert.equal(jobs.length, N);
    assert.equal(nextCursor, null);
    const seen = new Set<string>();
    for (const job of jobs) {
      const i = Number(job.id.slice(4));
      const input = jobOf(i);
      assert.equal(job.id, input.id);
      assert.equal(job.command, input.command);
      assert.equal(job.priority, input.priority);
      assert.equal(job.queue, input.queue ?? "default");
      seen.add(job.id);
    }
    assert.equal(seen.size, N, "no job is missing or doubled");
  });
});
