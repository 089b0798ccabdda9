/**
 * `queuectl wait` and `enqueue --wait` (README "Job flow"): exit 0 only when every job
 * completed; exit 1 naming each job that ended dead or cancelled, the jobs
 * still open at `--timeout`, or an unknown id. How soon it returns is the
 * bench's job, not a timed test.
 */
import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { cliCommand, runCli, storeTest, watchChild, type WatchedChild } from "../_helpers.ts";
import { startWorker, within } from "../workers/_worker_process.ts";
import { addJobs, assertOk } from "./_cli.ts";

/** Asserts exit 1 with exactly one `error: ` line on stderr matching every pattern. */
function assertFailedLine(result: { code: number; stderr: string }, ...patterns: RegExp[]) {
  assert.equal(result.code, 1, result.stderr);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr: ${result.stderr}`);
  assert.match(lines[0]!, /^error: /);
  for (const pattern of patterns) assert.match(lines[0]!, pattern);
}

/** The child's exit status once it has exited and its output is read; fails after `ms`. */
async function exitOf(child: WatchedChild, ms: number): Promise<Deno.CommandStatus> {
  const status = await within(child.status, ms);
  assert.ok(status, `still running after ${ms} ms; stderr: ${child.stderr()}`);
  await child.reading;
  return status;
}

storeTest(
  "wait on completed jobs exits 0 at once; --json prints them in the order given",
  async (tmp) => {
    await addJobs(tmp.db, [{ id: "c1", state: "completed" }, { id: "c2", state: "completed" }]);
    const plain = await runCli(["wait", "c1", "c2"], { db: tmp.db });
    assert.equal(assertOk(plain), "");
    assert.equal(plain.stderr, "");
    const json = await runCli(["wait", "c2", "c1", "c2", "--json"], { db: tmp.db });
    const jobs = JSON.parse(assertOk(json)) as Job[];
    assert.deepEqual(jobs.map((j) => [j.id, j.state]), [["c2", "completed"], ["c1", "completed"]]);
  },
);

storeTest("wait on a dead job exits 1 naming it with its last error", async (tmp) => {
  await addJobs(tmp.db, [{ id: "c1", state: "completed" }, { id: "d1", state: "dead" }]);
  const result = await runCli(["wait", "c1", "d1"], { db: tmp.db });
  assertFailedLine(result, /1 of 2 jobs did not complete/, /"d1" dead \(exit code 1\)/);
  assert.doesNotMatch(result.stderr, /"c1"/);
  assert.equal(result.stdout, "");
});

storeTest(
  "wait exits 1 naming each job that ended dead or cancelled; --json still prints all",
  async (tmp) => {
    await addJobs(tmp.db, [
      { id: "d1", state: "dead" },
      { id: "x1", state: "cancelled" },
      { id: "c1", state: "completed" },
    ]);
    const result = await runCli(["wait", "d1", "x1", "c1", "--json"], { db: tmp.db });
    assertFailedLine(result, /2 of 3 jobs did not complete/, /"d1" dead/, /"x1" cancelled/);
    const jobs = JSON.parse(result.stdout) as Job[];
    assert.deepEqual(jobs.map((j) => j.state), ["dead", "cancelled", "completed"]);
  },
);

storeTest("wait --timeout exits 1 naming the jobs still open, after the timeout", async (tmp) => {
  await addJobs(tmp.db, [{ id: "c1", state: "completed" }, { id: "p1", state: "pending" }]);
  const started = Date.now();
  const result = await runCli(["wait", "c1", "p1", "--timeout", "300ms"], { db: tmp.db });
  assertFailedLine(result, /Timed out after 0.3 s/, /1 of 2 jobs still open: "p1" \(pending\)/);
  assert.ok(Date.now() - started >= 300, "it waited the whole timeout");
});

storeTest("wait wakes when another process cancels the job it waits for", async (tmp) => {
  await addJobs(tmp.db, [{ id: "p1", state: "pending" }]);
  const waiter = watchChild(cliCommand(["wait", "p1"], { db: tmp.db }).spawn());
  try {
    // It has not returned on its own while the job stays pending.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(waiter.exited(), false, `wait returned early: ${waiter.stderr()}`);
    assertOk(await runCli(["cancel", "p1"], { db: tmp.db }));
    const status = await exitOf(waiter, 15_000);
    assertFailedLine({ code: status.code, stderr: waiter.stderr() }, /"p1" cancelled/);
  } finally {
    waiter.kill("SIGKILL");
    await waiter.status;
    await waiter.reading;
  }
});

storeTest("wait takes a thousand ids in one call", async (tmp) => {
  const ids = Array.from({ length: 1000 }, (_, i) => `w${String(i).padStart(4, "0")}`);
  assertOk(
    await runCli(["enqueue", "--file", "-"], {
      db: tmp.db,
      stdin: ids.map((id) => JSON.stringify({ id, command: "true" })).join("\n"),
    }),
  );
  const waiter = watchChild(cliCommand(["wait", ...ids], { db: tmp.db }).spawn());
  try {
    assertOk(await runCli(["cancel", ...ids], { db: tmp.db }));
    const status = await exitOf(waiter, 30_000);
    assertFailedLine(
      { code: status.code, stderr: waiter.stderr() },
      /1000 of 1000 jobs did not complete: "w0000" cancelled/,
      /and 990 more$/,
    );
  } finally {
    waiter.kill("SIGKILL");
    await waiter.status;
    await waiter.reading;
  }
});

storeTest("wait exits 0 once a worker has completed every job", async (tmp) => {
  for (const id of ["a", "b"]) {
    assertOk(await runCli(["enqueue", "--id", id, "--", "sleep", "0.2"], { db: tmp.db }));
  }
  const waiter = watchChild(cliCommand(["wait", "a", "b", "--json"], { db: tmp.db }).spawn());
  try {
    await using _worker = await startWorker(tmp.db, ["--count", "2"]);
    const status = await exitOf(waiter, 30_000);
    assert.equal(status.code, 0, waiter.stderr());
    const jobs = JSON.parse(waiter.stdout()) as Job[];
    assert.deepEqual(jobs.map((j) => [j.id, j.state]), [["a", "completed"], ["b", "completed"]]);
  } finally {
    waiter.kill("SIGKILL");
    await waiter.status;
    await waiter.reading;
  }
});

storeTest("enqueue --wait in each form prints the ids, then exits as wait does", async (tmp) => {
  await using _worker = await startWorker(tmp.db, ["--count", "2"]);
  const db = { db: tmp.db };

  const command = await runCli(["enqueue", "--wait", "--id", "cmd", "--", "echo", "hi"], db);
  assert.equal(assertOk(command), "cmd\n");

  const json = await runCli(["enqueue", "--wait", '{"id":"js","command":"true"}'], db);
  assert.equal(assertOk(json), "js\n");

  const file = await runCli(["enqueue", "--wait", "--file", "-"], {
    ...db,
    stdin: '{"id":"f1","command":"true"}\n{"id":"f2","command":"true","after":"f1"}\n',
  });
  assert.equal(assertOk(file), "enqueued 2 jobs\n");
  for (const id of ["cmd", "js", "f1", "f2"]) {
    const job = JSON.parse(assertOk(await runCli(["show", id, "--json"], db))) as Job;
    assert.equal(job.state, "completed", id);
  }

  const failing = await runCli(
    ["enqueue", "--wait", "--id", "bad", "--max-retries", "0", "--", "sh", "-c", "exit 3"],
    db,
  );
  assert.equal(failing.stdout, "bad\n", "the id is printed before waiting");
  assertFailedLine(failing, /"bad" dead \(exit code 3\)/);

  const batch = await runCli(["enqueue", "--wait", "--file", "-"], {
    ...db,
    stdin: '{"id":"g1","command":"exit 4","max_retries":0}\n{"id":"g2","command":"true"}\n',
  });
  assert.equal(batch.stdout, "enqueued 2 jobs\n");
  assertFailedLine(batch, /1 of 2 jobs did not complete: "g1" dead \(exit code 4\)$/);
});

storeTest("enqueue --wait --json prints the job once, as it ended", async (tmp) => {
  await using _worker = await startWorker(tmp.db);
  const result = await runCli(
    ["enqueue", "--wait", "--json", "--id", "j1", "--", "echo", "done"],
    { db: tmp.db },
  );
  const job = JSON.parse(assertOk(result)) as Job;
  assert.equal(job.id, "j1");
  assert.equal(job.state, "completed");
  assert.equal(job.attempts, 1);
});

storeTest("enqueue --wait --wait-timeout exits 1 when the job is still open", async (tmp) => {
  // No worker: the job stays pending.
  const result = await runCli(
    ["enqueue", "--wait", "--wait-timeout", "200ms", "--id", "slow", "--", "true"],
    { db: tmp.db },
  );
  assert.equal(result.stdout, "slow\n");
  assertFailedLine(result, /Timed out after 0.2 s/, /"slow" \(pending\)/);
});
