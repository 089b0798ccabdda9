/**
 * The operator controls end to end (README "Operating a queue"): tags,
 * actions by filter while workers drain, hold and release, edit, delete.
 */
import assert from "node:assert/strict";
import type { Job, JobState } from "../../lib/job.ts";
import { cliJson, runCli, storeTest, waitFor } from "../_helpers.ts";
import { startWorker } from "../workers/_worker_process.ts";
import { assertOk, withStore } from "./_cli.ts";

const N = 5000;

/** Every job's state and tags, read page by page through the store. */
async function everyJob(db: string): Promise<Job[]> {
  return await withStore(db, async (store) => {
    const jobs: Job[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.jobList({ limit: 1000, cursor });
      jobs.push(...page.jobs);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return jobs;
  });
}

storeTest(
  "cancel --state pending --tag batch7 while 4 workers drain cancels exactly the matching jobs",
  async (tmp) => {
    // Every third job carries batch7; the rest are other work the workers drain.
    const lines = Array.from({ length: N }, (_, i) =>
      JSON.stringify({
        id: `j${String(i).padStart(5, "0")}`,
        command: "true",
        tags: i % 3 === 0 ? ["batch7", "nightly"] : ["other"],
      }));
    const enqueued = await runCli(["enqueue", "--file", "-"], {
      db: tmp.db,
      stdin: lines.join("\n"),
    });
    assert.equal(assertOk(enqueued), `enqueued ${N} jobs\n`);
    const tagged = lines.filter((l) => l.includes("batch7")).length;

    await using worker = await startWorker(tmp.db, ["--count", "4"]);
    // Let the workers get going, so the cancel meets jobs being claimed.
    await waitFor(
      async () => (await withStore(tmp.db, (s) => s.jobCountByState())).completed > 50,
      {
        timeoutMs: 30_000,
        message: "the workers started draining",
      },
    );
    const result = await runCli(["cancel", "--state", "pending", "--tag", "batch7"], {
      db: tmp.db,
    });
    const out = assertOk(result);
    const reported = Number(/^cancelled (\d+) jobs?$/m.exec(out)?.[1]);
    assert.ok(reported > 0, out);

    // The rest drains; then every job is accounted for.
    await waitFor(async () => {
      const counts = await withStore(tmp.db, (s) => s.jobCountByState());
      return counts.pending + counts.processing === 0;
    }, { timeoutMs: 120_000, message: "the workers drained the rest" });
    await worker.stop();
    const jobs = await everyJob(tmp.db);
    assert.equal(jobs.length, N, "no job lost");
    const by = (state: JobState) => jobs.filter((j) => j.state === state);
    const cancelled = by("cancelled");
    assert.equal(cancelled.length, reported, "the count reported is the count cancelled");
    assert.ok(cancelled.every((j) => j.tags?.includes("batch7")), "only batch7 jobs cancelled");
    assert.equal(by("completed").length, N - reported, "every other job ran");
    assert.ok(
      by("completed").filter((j) => j.tags?.includes("batch7")).length === tagged - reported,
    );
    const counts = await withStore(tmp.db, (s) => s.jobCountByState());
    assert.equal(counts.cancelled, reported, "the kept counts agree");
  },
);

storeTest("--dry-run prints how many and the first ids, and changes nothing", async (tmp) => {
  const lines = Array.from(
    { length: 30 },
    (_, i) =>
      JSON.stringify({ id: `d${String(i).padStart(2, "0")}`, command: "true", tags: ["t"] }),
  );
  assertOk(await runCli(["enqueue", "--file", "-"], { db: tmp.db, stdin: lines.join("\n") }));
  const out = assertOk(await runCli(["cancel", "--tag", "t", "--dry-run"], { db: tmp.db }));
  assert.match(
    out,
    /^would cancel 30 jobs: d00, d01, d02, d03, d04, d05, d06, d07, d08, d09, … \(first 10 of 30\) \(dry run: nothing changed\)$/m,
  );
  const json = await cliJson<{ count: number; ids: string[]; dry_run: boolean }>(
    ["cancel", "--tag", "t", "--dry-run"],
    { db: tmp.db },
  );
  assert.deepEqual([json.count, json.ids.length, json.dry_run], [30, 10, true]);
  const counts = await withStore(tmp.db, (s) => s.jobCountByState());
  assert.equal(counts.pending, 30);
});

storeTest("hold then release of blocked jobs keeps their dependencies", async (tmp) => {
  const db = { db: tmp.db };
  assertOk(await runCli(["enqueue", "--id", "dep", "--queue", "later", "--", "true"], db));
  assertOk(await runCli(["enqueue", "--id", "b1", "--after", "dep", "--", "true"], db));
  assertOk(
    await runCli(["enqueue", "--id", "b2", "--after", "dep", "--key", "k", "--", "true"], db),
  );
  assert.equal(assertOk(await runCli(["hold", "--state", "blocked"], db)), "held 2 jobs\n");
  const list = await cliJson<Job[]>(["list", "--state", "held"], db);
  assert.deepEqual(list.map((j) => j.id).sort(), ["b1", "b2"]);
  // The key stays taken while held.
  const again = await runCli(["enqueue", "--id", "b3", "--key", "k", "--", "true"], db);
  assert.equal(assertOk(again), "b2\n");
  assert.equal(assertOk(await runCli(["release", "--all"], db)), "released 2 jobs\n");
  const b1 = await cliJson<Job & { dependencies: { id: string }[] }>(["show", "b1"], db);
  assert.equal(b1.state, "blocked");
  assert.deepEqual(b1.dependencies.map((d) => d.id), ["dep"]);
  const status = await cliJson<{ counts: Record<string, number> }>(["status"], db);
  assert.equal(status.counts.held, 0);
  assert.equal(status.counts.blocked, 2);
});

storeTest(
  "enqueue --hold adds a held job that a worker never starts until released",
  async (tmp) => {
    const db = { db: tmp.db };
    assert.equal(
      assertOk(await runCli(["enqueue", "--id", "h", "--hold", "--", "true"], db)),
      "h\n",
    );
    await using _worker = await startWorker(tmp.db, ["--count", "1"]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await cliJson<Job>(["show", "h"], db)).state, "held");
    assert.equal(assertOk(await runCli(["release", "h"], db)), "job h released: pending\n");
    await waitFor(async () => (await cliJson<Job>(["show", "h"], db)).state === "completed", {
      timeoutMs: 15_000,
      message: "the released job ran",
    });
  },
);

storeTest(
  "edit changes a waiting job in one go; show and list --tag show its tags",
  async (tmp) => {
    const db = { db: tmp.db };
    assertOk(
      await runCli(["enqueue", "--id", "e", "--tag", "a", "--delay", "1h", "--", "true"], db),
    );
    const out = assertOk(
      await runCli([
        "edit",
        "e",
        "--command",
        "echo edited",
        "--priority",
        "4",
        "--queue",
        "q2",
        "--max-retries",
        "2",
        "--timeout",
        "1.5",
        "--tag",
        "b",
        "--tag",
        "c",
        "--env",
        "A=1",
        "--env",
        "B=x=y",
      ], db),
    );
    assert.equal(out, "job e edited: command, priority, queue, max_retries, timeout, tags, env\n");
    const job = await cliJson<Job>(["show", "e"], db);
    assert.deepEqual(
      [job.command, job.priority, job.queue, job.max_retries, job.timeout, job.tags, job.env],
      ["echo edited", 4, "q2", 2, 1.5, ["b", "c"], { A: "1", B: "x=y" }],
    );
    const listed = await cliJson<Job[]>(["list", "--tag", "b", "--tag", "c"], db);
    assert.deepEqual(listed.map((j) => j.id), ["e"]);
    assert.deepEqual(await cliJson<Job[]>(["list", "--tag", "a"], db), []);
    assert.match(assertOk(await runCli(["list"], db)), /\bb,c\b/);
  },
);

storeTest("retry and delete by filter, reporting the count", async (tmp) => {
  const db = { db: tmp.db };
  const lines = Array.from(
    { length: 12 },
    (_, i) => JSON.stringify({ id: `x${i}`, command: "true", tags: i < 8 ? ["old"] : ["new"] }),
  );
  assertOk(await runCli(["enqueue", "--file", "-"], { ...db, stdin: lines.join("\n") }));
  assert.equal(assertOk(await runCli(["cancel", "--all"], db)), "cancelled 12 jobs\n");
  assert.equal(assertOk(await runCli(["retry", "--tag", "new"], db)), "retried 4 jobs\n");
  assert.equal(
    assertOk(await runCli(["delete", "--state", "cancelled", "--command-like", "TRU"], db)),
    "deleted 8 jobs\n",
  );
  const left = await cliJson<Job[]>(["list"], db);
  assert.deepEqual(left.map((j) => j.state), ["pending", "pending", "pending", "pending"]);
});
