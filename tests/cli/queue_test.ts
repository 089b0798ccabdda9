/** `queuectl queue list|pause|resume|set`: bad input, and pause and limits as workers see them. */
import assert from "node:assert/strict";
import type { QueueInfo } from "../../lib/storage/storage.ts";
import { cliJson, runCli, storeTest, waitFor, withTempDb } from "../_helpers.ts";
import {
  cliOk,
  enqueue,
  enqueueMany,
  startWorker,
  waitForCount,
  type WorkerProcess,
} from "../workers/_worker_process.ts";

function queueList(db: string): Promise<QueueInfo[]> {
  return cliJson<QueueInfo[]>(["queue", "list"], { db });
}

for (
  const args of [
    ["queue", "set", "q", "--concurrency", "-1"],
    ["queue", "set", "q", "--concurrency", "abc"],
    ["queue", "set", "q", "--concurrency", "1.5"],
    ["queue", "set", "q"],
    ["queue", "pause", "bad name!"],
    ["queue", "resume", "x".repeat(129)],
    ["queue", "set", "bad/name", "--concurrency", "2"],
  ]
) {
  Deno.test(`${args.join(" ")} is a usage error (exit 2, one line, nothing changed)`, async () => {
    await using tmp = await withTempDb();
    await enqueue(tmp.db, { id: "j1", command: "true", queue: "q" });
    const result = await runCli(args, { db: tmp.db });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, /^error: (Invalid (concurrency|queue name) "|Nothing to set)/);
    const queues = await queueList(tmp.db);
    assert.deepEqual(queues.map((q) => [q.name, q.paused, q.concurrency]), [["q", false, 0]]);
  });
}

storeTest("queue list shows every queue; pause, resume and set change only theirs", async (tmp) => {
  assert.deepEqual(await queueList(tmp.db), []);
  const empty = await runCli(["queue", "list"], { db: tmp.db });
  assert.match(empty.stdout, /no queues yet/);
  await enqueueMany(tmp.db, [
    { id: "a1", command: "true", queue: "a" },
    { id: "a2", command: "true", queue: "a" },
    { id: "d1", command: "true" },
  ]);
  await cliOk(["queue", "pause", "nightly"], { db: tmp.db }); // no jobs yet
  await cliOk(["queue", "set", "a", "--concurrency", "2"], { db: tmp.db });
  const queues = await queueList(tmp.db);
  assert.deepEqual(
    queues.map((q) => [q.name, q.counts.pending, q.running, q.paused, q.concurrency]),
    [["a", 2, 0, false, 2], ["default", 1, 0, false, 0], ["nightly", 0, 0, true, 0]],
  );
  await cliOk(["queue", "resume", "nightly"], { db: tmp.db });
  await cliOk(["queue", "set", "a", "--concurrency", "0"], { db: tmp.db });
  const after = await queueList(tmp.db);
  assert.deepEqual(after.map((q) => [q.name, q.paused, q.concurrency]), [
    ["a", false, 0],
    ["default", false, 0],
    ["nightly", false, 0],
  ]);
  const text = await cliOk(["queue", "list"], { db: tmp.db });
  assert.match(text.stdout, /^QUEUE\s+PENDING\s+RUNNING/);
  assert.match(text.stdout, /^a\s+2\s+0\s+.*active\s+none\s+none\s+none$/m);
});

/** Each job appends its start and end (seconds with nanoseconds) to `file`. */
function stampedJob(id: string, queue: string, file: string, seconds: number) {
  return {
    id,
    queue,
    command:
      `echo "s $(date +%s.%N)" >> ${file}; sleep ${seconds}; echo "e $(date +%s.%N)" >> ${file}`,
  };
}

/** The most jobs that ran at once, from their own start and end stamps (ends first on a tie). */
async function maxOverlap(file: string): Promise<{ max: number; starts: number }> {
  const events = (await Deno.readTextFile(file)).trim().split("\n").map((line) => {
    const [kind, at] = line.split(" ");
    return { delta: kind === "s" ? 1 : -1, at: Number(at) };
  });
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let max = 0;
  for (const event of events) max = Math.max(max, now += event.delta);
  return { max, starts: events.filter((e) => e.delta === 1).length };
}

storeTest(
  "a concurrency limit of 2 holds across 3 worker processes of 4 slots each",
  async (tmp) => {
    const stamps = `${tmp.dir}/stamps`;
    await cliOk(["queue", "set", "limited", "--concurrency", "2"], { db: tmp.db });
    await enqueueMany(
      tmp.db,
      Array.from({ length: 30 }, (_, i) => stampedJob(`l${i}`, "limited", stamps, 0.3)),
    );
    const workers: WorkerProcess[] = [];
    try {
      for (let i = 0; i < 3; i++) workers.push(await startWorker(tmp.db, ["--count", "4"]));
      await waitForCount(tmp.db, "completed", 30, { timeoutMs: 60_000, workers });
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    const { max, starts } = await maxOverlap(stamps);
    assert.equal(starts, 30, "every job ran once");
    assert.ok(max <= 2, `${max} jobs of the queue ran at once`);
    assert.equal(max, 2, "the limit is used, not just kept");
  },
);

storeTest(
  "a paused queue runs nothing while others drain; resume starts it at once",
  async (tmp) => {
    const stamps = `${tmp.dir}/stamps`;
    await cliOk(["queue", "pause", "held"], { db: tmp.db });
    await enqueueMany(tmp.db, [
      ...Array.from({ length: 5 }, (_, i) => stampedJob(`h${i}`, "held", stamps, 0)),
      ...Array.from({ length: 10 }, (_, i) => ({ id: `o${i}`, command: "true", queue: "other" })),
    ]);
    await using worker = await startWorker(tmp.db, ["--count", "2"]);
    await waitForCount(tmp.db, "completed", 10, { timeoutMs: 30_000, workers: [worker] });
    // Well past the idle poll: still nothing of the paused queue ran.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const paused = (await queueList(tmp.db)).find((q) => q.name === "held")!;
    assert.equal(paused.counts.pending, 5, JSON.stringify(paused));
    assert.equal(
      await Deno.stat(stamps).then(() => true, () => false),
      false,
      "no held job started",
    );
    const resumedAt = Date.now();
    await cliOk(["queue", "resume", "held"], { db: tmp.db });
    await waitForCount(tmp.db, "completed", 15, { timeoutMs: 30_000, workers: [worker] });
    const firstStart = Math.min(
      ...(await Deno.readTextFile(stamps)).trim().split("\n")
        .filter((l) => l.startsWith("s ")).map((l) => Number(l.split(" ")[1]) * 1000),
    );
    // The resume wakes the idle worker (not its 1 s poll, nor a restart).
    assert.ok(
      firstStart - resumedAt < 3000,
      `first held job started ${firstStart - resumedAt} ms after`,
    );
    await worker.stop();
  },
);

storeTest(
  "a pause reaches a running worker: running jobs finish, nothing new starts",
  async (tmp) => {
    const stamps = `${tmp.dir}/stamps`;
    await enqueue(tmp.db, stampedJob("first", "q", stamps, 1.5));
    await using worker = await startWorker(tmp.db, ["--count", "1"]);
    await waitFor(() => Deno.stat(stamps).then(() => true, () => false), { timeoutMs: 15_000 });
    await cliOk(["queue", "pause", "q"], { db: tmp.db });
    await enqueue(tmp.db, stampedJob("second", "q", stamps, 0));
    await waitForCount(tmp.db, "completed", 1, { timeoutMs: 15_000, workers: [worker] });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const [q] = await queueList(tmp.db);
    assert.deepEqual(
      [q?.counts.completed, q?.counts.pending],
      [1, 1],
      "enqueue works, nothing ran",
    );
    await cliOk(["queue", "resume", "q"], { db: tmp.db });
    await waitForCount(tmp.db, "completed", 2, { timeoutMs: 15_000, workers: [worker] });
    await worker.stop();
  },
);
