/**
 * Flow control (README "Flow control") with real worker processes on every
 * store: a rate limit across processes, group concurrency, expiry,
 * `after_any` and `unique_for`.
 */
import assert from "node:assert/strict";
import { runCli, storeTest } from "../_helpers.ts";
import {
  cliOk,
  enqueue,
  enqueueMany,
  read,
  startWorker,
  waitForCount,
  waitForState,
  type WorkerProcess,
} from "../workers/_worker_process.ts";
import { withStore } from "./_cli.ts";

/** Runs `fn` with `n` worker processes of `count` slots, stopping them after. */
async function withWorkers(
  db: string,
  n: number,
  args: string[],
  fn: (workers: WorkerProcess[]) => Promise<void>,
): Promise<void> {
  const workers: WorkerProcess[] = [];
  try {
    for (let i = 0; i < n; i++) workers.push(await startWorker(db, args));
    await fn(workers);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/** The start stamps (epoch ms) of every attempt of `ids`, sorted, and the last finish. */
async function runTimes(db: string, ids: string[]): Promise<{ starts: number[]; end: number }> {
  return await withStore(db, async (store) => {
    const starts: number[] = [];
    let end = 0;
    for (const id of ids) {
      const job = await store.jobGetWithRuns({ id });
      for (const run of job?.runs ?? []) {
        starts.push(Date.parse(run.started_at));
        if (run.finished_at) end = Math.max(end, Date.parse(run.finished_at));
      }
    }
    return { starts: starts.sort((a, b) => a - b), end };
  });
}

storeTest(
  "a rate of 5/1s holds across 3 worker processes of 4 slots while another queue drains at full speed",
  async (tmp) => {
    await cliOk(["queue", "set", "api", "--rate", "5/1s"], { db: tmp.db });
    const api = Array.from({ length: 60 }, (_, i) => `api${i}`);
    const free = Array.from({ length: 60 }, (_, i) => `free${i}`);
    await enqueueMany(tmp.db, [
      ...api.map((id) => ({ id, queue: "api", command: "true" })),
      ...free.map((id) => ({ id, queue: "free", command: "true" })),
    ]);
    await withWorkers(tmp.db, 3, ["--count", "4"], async (workers) => {
      await waitForCount(tmp.db, "completed", 120, { timeoutMs: 60_000, workers });
      const listed = await runCli(["queue", "list"], { db: tmp.db });
      assert.match(listed.stdout, /^api\s.*\s\d\/5 per 1s\s+none$/m);
    });
    const limited = await runTimes(tmp.db, api);
    const unlimited = await runTimes(tmp.db, free);
    assert.equal(limited.starts.length, 60, "every job ran once: nothing failed");
    for (let i = 0; i + 5 < limited.starts.length; i++) {
      const span = limited.starts[i + 5]! - limited.starts[i]!;
      assert.ok(span >= 1000, `starts ${i}..${i + 5} fall within ${span} ms: 6 in one window`);
    }
    const drain = limited.starts.at(-1)! - limited.starts[0]!;
    assert.ok(drain >= 11_000 && drain < 15_000, `the limited drain took ${drain} ms (~11-12 s)`);
    const freeDone = unlimited.end - limited.starts[0]!;
    assert.ok(freeDone < 5000, `the unlimited queue drained ${freeDone} ms after the first start`);
    const stats = await read.status(tmp.db);
    assert.equal(stats.counts.failed + stats.counts.dead, 0);
  },
);

/** Each job appends its group, start and end (seconds with nanoseconds) to `file`. */
function groupJob(id: string, group: string, file: string) {
  return {
    id,
    queue: "hosts",
    group,
    command: `echo "${group} s $(date +%s.%N)" >> ${file}; sleep 0.2; ` +
      `echo "${group} e $(date +%s.%N)" >> ${file}`,
  };
}

/** The most jobs running at once, per group and in all, from the jobs' own stamps. */
async function overlaps(file: string): Promise<{ perGroup: number; all: number }> {
  const events = (await Deno.readTextFile(file)).trim().split("\n").map((line) => {
    const [group, kind, at] = line.split(" ");
    return { group: group!, delta: kind === "s" ? 1 : -1, at: Number(at) };
  });
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const running = new Map<string, number>();
  let all = 0;
  let perGroup = 0;
  let maxAll = 0;
  for (const e of events) {
    const n = (running.get(e.group) ?? 0) + e.delta;
    running.set(e.group, n);
    perGroup = Math.max(perGroup, n);
    maxAll = Math.max(maxAll, all += e.delta);
  }
  return { perGroup, all: maxAll };
}

storeTest(
  "a group concurrency of 1 runs 3 groups side by side, never two of one group at once",
  async (tmp) => {
    const stamps = `${tmp.dir}/stamps`;
    await cliOk(["queue", "set", "hosts", "--group-concurrency", "1"], { db: tmp.db });
    const jobs = ["a", "b", "c"].flatMap((g) =>
      Array.from({ length: 10 }, (_, i) => groupJob(`${g}${i}`, g, stamps))
    );
    await enqueueMany(tmp.db, jobs);
    const started = Date.now();
    await withWorkers(tmp.db, 2, ["--count", "4"], async (workers) => {
      await waitForCount(tmp.db, "completed", 30, { timeoutMs: 60_000, workers });
    });
    const took = Date.now() - started;
    const { perGroup, all } = await overlaps(stamps);
    assert.equal(perGroup, 1, "never two jobs of one group at once");
    assert.equal(all, 3, "the three groups ran side by side");
    assert.ok(took < 10_000, `30 jobs of 0.2 s in 3 groups took ${took} ms`);
  },
);

storeTest(
  "a job not started by its expiry is cancelled as expired, by a worker's pass",
  async (tmp) => {
    await cliOk(["queue", "pause", "slow"], { db: tmp.db });
    await cliOk(
      ["enqueue", "--id", "late", "--queue", "slow", "--expires-in", "1s", "--", "true"],
      {
        db: tmp.db,
      },
    );
    await cliOk(["enqueue", "--id", "ok", "--expires-in", "1h", "--", "true"], { db: tmp.db });
    await withWorkers(tmp.db, 1, ["--count", "2"], async (workers) => {
      const late = await waitForState(tmp.db, "late", "cancelled", { workers });
      assert.equal(late.last_error, "expired");
      assert.equal(late.attempts, 0, "never started");
      await waitForState(tmp.db, "ok", "completed", { workers });
    });
    const shown = await cliOk(["show", "late", "--json"], { db: tmp.db });
    assert.match(JSON.parse(shown.stdout).expires_at, /^\d{4}-/);
  },
);

storeTest("after_any runs a clean-up step after a batch whatever happens", async (tmp) => {
  await enqueue(tmp.db, { id: "b1", command: "true" });
  await enqueue(tmp.db, { id: "b2", command: "exit 3", max_retries: 0 });
  await cliOk([
    "enqueue",
    "--id",
    "cleanup",
    "--after-any",
    "b1",
    "--after-any",
    "b2",
    "--",
    "true",
  ], { db: tmp.db });
  assert.equal((await read.job(tmp.db, "cleanup")).state, "blocked");
  await withWorkers(tmp.db, 1, ["--count", "2"], async (workers) => {
    await waitForState(tmp.db, "cleanup", "completed", { workers });
  });
  assert.equal((await read.job(tmp.db, "b2")).state, "dead");
  const shown = await read.job(tmp.db, "cleanup");
  assert.deepEqual(shown.after_any, ["b1", "b2"]);
});

storeTest("unique_for keeps a key taken after its job completed", async (tmp) => {
  await cliOk(["enqueue", "--id", "u1", "--key", "sync", "--unique-for", "1h", "--", "true"], {
    db: tmp.db,
  });
  await withWorkers(tmp.db, 1, [], async (workers) => {
    await waitForState(tmp.db, "u1", "completed", { workers });
  });
  const kept = await runCli(["enqueue", "--key", "sync", "--", "true"], { db: tmp.db });
  assert.equal(kept.code, 0, kept.stderr);
  assert.equal(kept.stdout.trim(), "u1", "the holder's id");
  assert.match(kept.stderr, /already exists: u1/);
  const failed = await runCli(["enqueue", "--key", "sync", "--on-conflict", "fail", "--", "true"], {
    db: tmp.db,
  });
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /^error: .*taken by job "u1" until .* \(unique_for\)/);
});
