/** Retention (`keep_*`, the workers' pruner, `prune`), `vacuum` and `backup`. */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runCli, storeTest, withTempDb } from "../_helpers.ts";
import { withStore } from "./_cli.ts";
import {
  cliOk,
  configSet,
  enqueue,
  enqueueMany,
  startWorker,
  waitForCount,
  waitForState,
} from "../workers/_worker_process.ts";

/** Ids of every job, sorted. */
async function ids(db: string): Promise<string[]> {
  const result = await cliOk(["list", "--limit", "1000", "--json"], { db });
  return (JSON.parse(result.stdout) as { id: string }[]).map((j) => j.id).sort();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (
  const args of [
    ["prune", "--completed-older-than", "yesterday"],
    ["prune", "--dead-older-than", "-1"],
    ["config", "set", "keep_completed", "-1"],
    ["config", "set", "keep_completed", "forever"],
    ["config", "set", "keep-dead", "7 days"],
  ]
) {
  Deno.test(`${args.join(" ")} is a usage error (exit 2, one line, nothing changed)`, async () => {
    await using tmp = await withTempDb();
    await enqueue(tmp.db, { id: "old", command: "true" });
    await using worker = await startWorker(tmp.db);
    await waitForState(tmp.db, "old", "completed", { workers: [worker] });
    await worker.stop();
    const result = await runCli(args, { db: tmp.db });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, /^error: Invalid (duration|value) "/);
    assert.deepEqual(await ids(tmp.db), ["old"]);
    const config = JSON.parse((await cliOk(["config", "list", "--json"], { db: tmp.db })).stdout);
    assert.deepEqual(
      [config.keep_completed, config.keep_cancelled, config.keep_dead],
      [604800, 604800, 0],
    );
  });
}

storeTest("config set keep_completed takes seconds or a duration", async (tmp) => {
  await configSet(tmp.db, "keep_completed", "7d");
  await configSet(tmp.db, "keep-cancelled", "1h30m");
  await configSet(tmp.db, "keep_dead", "0");
  const config = JSON.parse((await cliOk(["config", "list", "--json"], { db: tmp.db })).stdout);
  assert.deepEqual(
    [config.keep_completed, config.keep_cancelled, config.keep_dead],
    [604800, 5400, 0],
  );
});

storeTest("running workers delete old final jobs and their runs; active ones stay", async (tmp) => {
  await enqueueMany(tmp.db, [
    { id: "ok-old", command: "echo kept-output" },
    { id: "dead-old", command: "exit 3", max_retries: 0 },
    { id: "cancel-old", command: "true", delay: "1h" },
    { id: "later", command: "true", delay: "1h" },
    { id: "retrying", command: "exit 1", max_retries: 5 },
  ]);
  await configSet(tmp.db, "backoff_base", 1000); // a retry far away
  await cliOk(["cancel", "cancel-old"], { db: tmp.db });
  {
    await using worker = await startWorker(tmp.db);
    await waitForState(tmp.db, "ok-old", "completed", { workers: [worker] });
    await waitForState(tmp.db, "dead-old", "dead", { workers: [worker] });
    await waitForState(tmp.db, "retrying", "failed", { workers: [worker] });
    await worker.stop();
  }
  await configSet(tmp.db, "keep_completed", "2s");
  await configSet(tmp.db, "keep_cancelled", 2);
  await configSet(tmp.db, "keep_dead", "2");
  await sleep(2500);
  const running = `${tmp.dir}/running`;
  await enqueue(tmp.db, { id: "fresh", command: "true" });
  await enqueue(tmp.db, { id: "busy", command: `touch ${running}; sleep 4` });
  await using worker = await startWorker(tmp.db, ["--count", "2"]);
  await waitForState(tmp.db, "fresh", "completed", { workers: [worker] });
  // The first pass comes about a second after start.
  await waitForCount(tmp.db, "completed", 1, { timeoutMs: 15_000, workers: [worker] });
  await waitForCount(tmp.db, "dead", 0, { timeoutMs: 15_000, workers: [worker] });
  await waitForCount(tmp.db, "cancelled", 0, { timeoutMs: 15_000, workers: [worker] });
  assert.deepEqual(await ids(tmp.db), ["busy", "fresh", "later", "retrying"]);
  const gone = await runCli(["logs", "ok-old"], { db: tmp.db });
  assert.equal(gone.code, 1, "the job and its output are gone");
  await worker.stop();
});

storeTest("prune: --dry-run changes nothing; flags prune only their states", async (tmp) => {
  await enqueueMany(tmp.db, [
    { id: "ok1", command: "true" },
    { id: "ok2", command: "true" },
    { id: "dead1", command: "exit 3", max_retries: 0 },
    { id: "waiting", command: "true", delay: "1h" },
  ]);
  {
    await using worker = await startWorker(tmp.db);
    await waitForCount(tmp.db, "completed", 2, { workers: [worker] });
    await waitForCount(tmp.db, "dead", 1, { workers: [worker] });
    await worker.stop();
  }
  await sleep(1100);
  const dry = await cliOk(
    ["prune", "--completed-older-than", "1s", "--dead-older-than", "1s", "--dry-run", "--json"],
    { db: tmp.db },
  );
  assert.deepEqual(JSON.parse(dry.stdout), {
    completed: 2,
    cancelled: 0,
    dead: 1,
    events: 0,
    dry_run: true,
  });
  assert.deepEqual(await ids(tmp.db), ["dead1", "ok1", "ok2", "waiting"], "nothing deleted");
  // With the settings (7 days; dead kept forever) nothing is old enough.
  const none = await cliOk(["prune"], { db: tmp.db });
  assert.equal(
    none.stdout.trim(),
    "pruned 0 jobs (0 completed, 0 cancelled, 0 dead) and 0 events",
  );
  const some = await cliOk(["prune", "--completed-older-than", "1s"], { db: tmp.db });
  assert.equal(some.stdout.trim(), "pruned 2 jobs (2 completed, 0 cancelled, 0 dead)");
  assert.deepEqual(await ids(tmp.db), ["dead1", "waiting"]);
  await configSet(tmp.db, "keep_dead", 1);
  const bySettings = await cliOk(["prune", "--json"], { db: tmp.db });
  assert.deepEqual(JSON.parse(bySettings.stdout), {
    completed: 0,
    cancelled: 0,
    dead: 1,
    events: 0,
    dry_run: false,
  });
  assert.deepEqual(await ids(tmp.db), ["waiting"]);
});

storeTest("vacuum prints the size before and after and keeps every job", async (tmp) => {
  await enqueueMany(
    tmp.db,
    Array.from({ length: 300 }, (_, i) => ({ id: `v${i}`, command: `echo ${"x".repeat(300)}` })),
  );
  const result = await cliOk(["vacuum"], { db: tmp.db });
  assert.match(result.stdout, /^vacuumed: .+ before, .+ after \(.+ freed\)$/m);
  const json = JSON.parse((await cliOk(["vacuum", "--json"], { db: tmp.db })).stdout);
  assert.ok(json.before_bytes > 0 && json.after_bytes > 0, JSON.stringify(json));
  assert.equal((await ids(tmp.db)).length, 300);
});

storeTest("backup refuses an existing file or a missing folder (exit 2)", async (tmp) => {
  await enqueue(tmp.db, { id: "j1", command: "true" });
  const taken = `${tmp.dir}/taken.db`;
  await Deno.writeTextFile(taken, "keep");
  for (const path of [taken, `${tmp.dir}/missing/copy.db`]) {
    const result = await runCli(["backup", path], { db: tmp.db });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    if (tmp.kind === "postgres") assert.match(result.stderr, /pg_dump/);
    else assert.match(result.stderr, /^error: Cannot back up to ".+": (the file exists|folder)/);
  }
  assert.equal(await Deno.readTextFile(taken), "keep");
  if (tmp.kind === "postgres") {
    const fresh = await runCli(["backup", `${tmp.dir}/fresh.db`], { db: tmp.db });
    assert.equal(fresh.code, 2);
    assert.match(fresh.stderr, /^error: .+; use pg_dump/);
  }
});

Deno.test("backup taken while 4 workers drain 2,000 jobs is a valid, consistent database", async () => {
  await using tmp = await withTempDb();
  await enqueueMany(
    tmp.db,
    Array.from({ length: 2000 }, (_, i) => ({ id: `b${i}`, command: "true" })),
  );
  await using worker = await startWorker(tmp.db, ["--count", "4"]);
  await worker.waitForOutput(/job b\d+\s+completed/);
  const copy = `${tmp.dir}/copy.db`;
  const result = await cliOk(["backup", copy], { db: tmp.db });
  assert.match(result.stdout, /^backed up to .+copy\.db \(/);
  await waitForCount(tmp.db, "completed", 2000, { timeoutMs: 120_000, workers: [worker] });
  await worker.stop();

  const db = new DatabaseSync(copy, { readOnly: true });
  try {
    assert.equal(db.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
    const counts = db.prepare("SELECT state, count(*) AS n FROM jobs GROUP BY state").all() as {
      state: string;
      n: number;
    }[];
    const byState = Object.fromEntries(counts.map((c) => [c.state, c.n]));
    assert.equal(counts.reduce((sum, c) => sum + c.n, 0), 2000, JSON.stringify(byState));
    assert.ok((byState.completed ?? 0) < 2000, `taken mid-drain: ${JSON.stringify(byState)}`);
    const kept = db.prepare("SELECT state, n FROM job_counts").all() as {
      state: string;
      n: number;
    }[];
    for (const { state, n } of kept) assert.equal(n, byState[state] ?? 0, `kept count of ${state}`);
    const unfinished = db.prepare(
      `SELECT count(*) AS n FROM jobs j WHERE state = 'completed' AND NOT EXISTS (
         SELECT 1 FROM runs r WHERE r.job_id = j.id AND r.outcome = 'succeeded'
           AND r.finished_at IS NOT NULL)`,
    ).get()?.n;
    assert.equal(unfinished, 0, "every completed job has its finished run");
    const orphanRuns = db.prepare(
      `SELECT count(*) AS n FROM jobs j WHERE state = 'processing' AND NOT EXISTS (
         SELECT 1 FROM runs r WHERE r.job_id = j.id AND r.finished_at IS NULL)`,
    ).get()?.n;
    assert.equal(orphanRuns, 0, "every running job has its open run");
  } finally {
    db.close();
  }
  // The copy is a queuectl database the CLI opens.
  const listed = await cliOk(["status", "--json"], { db: copy });
  assert.equal(
    Object.values(JSON.parse(listed.stdout).counts as Record<string, number>)
      .reduce((a, b) => a + b, 0),
    2000,
  );
});

storeTest("prune: events older than keep_events go too, counted by --dry-run", async (tmp) => {
  /** The seqs of the events still in the log. */
  const seqs = () =>
    withStore(
      tmp.db,
      async (store) => (await store.eventList({ after: 0, limit: 100 })).events.map((e) => e.seq),
    );
  await enqueueMany(tmp.db, [
    { id: "a", command: "true", delay: "1h" },
    { id: "b", command: "true", delay: "1h" },
    { id: "c", command: "true", delay: "1h" },
  ]);
  await configSet(tmp.db, "keep_events", "1s");
  await sleep(1100);
  await enqueue(tmp.db, { id: "fresh", command: "true", delay: "1h" });
  const all = await seqs();
  assert.equal(all.length, 4, "one enqueued event per job");
  const dry = await cliOk(["prune", "--dry-run", "--json"], { db: tmp.db });
  assert.deepEqual(JSON.parse(dry.stdout), {
    completed: 0,
    cancelled: 0,
    dead: 0,
    events: 3,
    dry_run: true,
  });
  const dryText = await cliOk(["prune", "--dry-run"], { db: tmp.db });
  assert.equal(
    dryText.stdout.trim(),
    "would prune 0 jobs (0 completed, 0 cancelled, 0 dead) and 3 events",
  );
  // An age flag prunes only its state's jobs: the event log is left alone.
  const flagged = await cliOk(["prune", "--completed-older-than", "1s", "--json"], { db: tmp.db });
  assert.equal(JSON.parse(flagged.stdout).events, 0);
  assert.deepEqual(await seqs(), all, "nothing deleted");
  const pruned = await cliOk(["prune"], { db: tmp.db });
  assert.equal(
    pruned.stdout.trim(),
    "pruned 0 jobs (0 completed, 0 cancelled, 0 dead) and 3 events",
  );
  assert.deepEqual(await seqs(), all.slice(3), "only the fresh job's event is left");
  const gone = await runCli(["events", "--since", "0"], { db: tmp.db });
  assert.equal(gone.code, 1, "the pruned mark moved");
  // keep_events 0 keeps them forever.
  await configSet(tmp.db, "keep_events", 0);
  await sleep(1100);
  const kept = await cliOk(["prune", "--json"], { db: tmp.db });
  assert.equal(JSON.parse(kept.stdout).events, 0);
  assert.deepEqual(await seqs(), all.slice(3));
});
