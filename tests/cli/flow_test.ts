/**
 * Job flow through the real CLI (README "Job flow"): dependencies and the blocked
 * state, unique keys with --on-conflict, retry_on, and how show, list,
 * status, retry and cancel present them. Bad input is in flow_bad_input_test.ts.
 */
import assert from "node:assert/strict";
import type { Job, JobWithRuns } from "../../lib/job.ts";
import type { Stats } from "../../lib/stats.ts";
import { cliJson, runCli, storeTest } from "../_helpers.ts";
import { configSet, startWorker } from "../workers/_worker_process.ts";
import { addJobs, assertOk, JOB_FIELDS } from "./_cli.ts";

const line = (job: Record<string, unknown>) => JSON.stringify(job);
const ndjson = (...jobs: Record<string, unknown>[]) => jobs.map(line).join("\n") + "\n";

function show(db: string, id: string): Promise<JobWithRuns> {
  return cliJson<JobWithRuns>(["show", id], { db });
}

// ----- dependencies

storeTest("a diamond of 4 jobs runs in dependency order", async (tmp) => {
  // a; then b and c (at once: 2 slots); then d after both.
  assertOk(
    await runCli(["enqueue", "--file", "-"], {
      db: tmp.db,
      stdin: ndjson(
        { id: "a", command: "sleep 0.3" },
        { id: "b", command: "sleep 0.3", after: "a" },
        { id: "c", command: "sleep 0.5", after: ["a"] },
        { id: "d", command: "true", after: ["b", "c"] },
      ),
    }),
  );
  const before = await Promise.all(["a", "b", "c", "d"].map((id) => show(tmp.db, id)));
  assert.deepEqual(before.map((j) => j.state), ["pending", "blocked", "blocked", "blocked"]);

  await using _worker = await startWorker(tmp.db, ["--count", "4"]);
  assertOk(await runCli(["wait", "d", "--timeout", "60s"], { db: tmp.db }));
  const [a, b, c, d] = await Promise.all(["a", "b", "c", "d"].map((id) => show(tmp.db, id)));
  const started = (j: JobWithRuns) => Date.parse(j.runs[0]!.started_at);
  const finished = (j: JobWithRuns) => Date.parse(j.runs[0]!.finished_at!);
  for (const job of [a!, b!, c!, d!]) {
    assert.equal(job.state, "completed", job.id);
    assert.equal(job.runs.length, 1, job.id);
  }
  assert.ok(started(b!) >= finished(a!), "b started after a ended");
  assert.ok(started(c!) >= finished(a!), "c started after a ended");
  assert.ok(started(d!) >= finished(b!), "d started after b ended");
  assert.ok(started(d!) >= finished(c!), "d started after c ended");
  // b and c ran side by side: neither waited for the other.
  assert.ok(started(c!) < finished(b!) && started(b!) < finished(c!), "b and c overlapped");
});

storeTest("a dead dependency cancels its dependents two levels down, naming it", async (tmp) => {
  await configSet(tmp.db, "max_retries", 0);
  assertOk(
    await runCli(["enqueue", "--file", "-"], {
      db: tmp.db,
      stdin: ndjson(
        { id: "root", command: "exit 9" },
        { id: "child", command: "true", after: "root" },
        { id: "grandchild", command: "true", after: "child" },
        { id: "other", command: "true" },
      ),
    }),
  );
  await using _worker = await startWorker(tmp.db);
  const waited = await runCli(["wait", "root", "child", "grandchild", "other"], { db: tmp.db });
  assert.equal(waited.code, 1, waited.stderr);
  assert.match(waited.stderr, /3 of 4 jobs did not complete/);
  const [root, child, grandchild, other] = await Promise.all(
    ["root", "child", "grandchild", "other"].map((id) => show(tmp.db, id)),
  );
  assert.equal(root!.state, "dead");
  assert.equal(other!.state, "completed");
  for (const job of [child!, grandchild!]) {
    assert.equal(job.state, "cancelled", job.id);
    assert.equal(job.runs.length, 0, `${job.id} never ran`);
  }
  assert.match(child!.last_error!, /dependency "root" is dead/);
  assert.match(grandchild!.last_error!, /dependency "child" was cancelled/);
  assert.match(grandchild!.last_error!, /"root"/, "the root cause stays in view");
});

storeTest("after may name a job earlier in the same batch", async (tmp) => {
  const out = assertOk(
    await runCli(["enqueue", "--file", "-", "--json"], {
      db: tmp.db,
      stdin: ndjson(
        { id: "first", command: "true" },
        { id: "second", command: "true", after: "first" },
      ),
    }),
  );
  const jobs = JSON.parse(out) as Job[];
  assert.deepEqual(jobs.map((j) => [j.id, j.state, j.after]), [
    ["first", "pending", null],
    ["second", "blocked", ["first"]],
  ]);
  const second = await show(tmp.db, "second");
  assert.deepEqual(second.dependencies, [{ id: "first", state: "pending" }]);
  assert.deepEqual((await show(tmp.db, "first")).dependents, [{ id: "second", state: "blocked" }]);
});

storeTest("a completed dependency is already met: the job is pending at once", async (tmp) => {
  await addJobs(tmp.db, [{ id: "done", state: "completed" }]);
  const out = assertOk(
    await runCli(["enqueue", "--id", "next", "--after", "done", "--", "true"], { db: tmp.db }),
  );
  assert.equal(out, "next\n");
  assert.equal((await show(tmp.db, "next")).state, "pending");
});

storeTest("enqueue --after is repeatable and stores every dependency in order", async (tmp) => {
  await addJobs(tmp.db, [{ id: "p1", state: "pending" }, { id: "p2", state: "pending" }]);
  assertOk(
    await runCli(
      ["enqueue", "--id", "j", "--after", "p2", "--after", "p1", "--", "true"],
      { db: tmp.db },
    ),
  );
  const job = await show(tmp.db, "j");
  assert.equal(job.state, "blocked");
  assert.deepEqual(job.after, ["p2", "p1"]);
  assert.deepEqual(job.dependencies, [{ id: "p2", state: "pending" }, {
    id: "p1",
    state: "pending",
  }]);
});

storeTest(
  "show --json has the dependencies with their states, the dependents, key and retry_on",
  async (tmp) => {
    await addJobs(tmp.db, [
      { id: "c1", state: "completed" },
      { id: "p1", state: "pending" },
      { id: "j", state: "blocked", after: ["c1", "p1"], key: "k-j", retryOn: [75, "timeout"] },
      { id: "k", state: "blocked", after: ["j"] },
    ]);
    const job = await show(tmp.db, "j");
    assert.deepEqual(
      Object.keys(job).sort(),
      [...JOB_FIELDS, "runs", "dependencies", "dependents"].sort(),
    );
    assert.deepEqual(job.after, ["c1", "p1"]);
    assert.deepEqual(job.dependencies, [
      { id: "c1", state: "completed" },
      { id: "p1", state: "pending" },
    ]);
    assert.deepEqual(job.dependents, [{ id: "k", state: "blocked" }]);
    assert.equal(job.key, "k-j");
    assert.deepEqual(job.retry_on, [75, "timeout"]);

    const text = assertOk(await runCli(["show", "j"], { db: tmp.db }));
    assert.match(text, /^after: +c1 \(completed\), p1 \(pending\)$/m);
    assert.match(text, /^dependents: +k \(blocked\)$/m);
    assert.match(text, /^key: +k-j$/m);
    assert.match(text, /^retry_on: +\[75,"timeout"\]$/m);
    assert.match(text, /^state: +blocked$/m);
  },
);

storeTest("list --state blocked, list --json fields and status count blocked jobs", async (tmp) => {
  await addJobs(tmp.db, [
    { id: "p1", state: "pending" },
    { id: "b1", state: "blocked", after: ["p1"] },
    { id: "b2", state: "blocked", after: ["p1", "b1"] },
  ]);
  const blocked = await cliJson<Job[]>(["list", "--state", "blocked"], { db: tmp.db });
  assert.deepEqual(blocked.map((j) => j.id).sort(), ["b1", "b2"]);
  for (const job of blocked) {
    assert.deepEqual(Object.keys(job).sort(), JOB_FIELDS);
    assert.equal(job.key, null);
    assert.equal(job.retry_on, null);
  }
  assert.deepEqual(blocked.find((j) => j.id === "b2")!.after, ["p1", "b1"]);
  const stats = await cliJson<Stats>(["status"], { db: tmp.db });
  assert.equal(stats.counts.blocked, 2);
  assert.equal(stats.counts.pending, 1);
  const text = assertOk(await runCli(["status"], { db: tmp.db }));
  assert.match(text, /^ {2}blocked +2$/m);
  const table = assertOk(await runCli(["list", "--state", "blocked"], { db: tmp.db }));
  assert.match(table, /^b1 +blocked /m);
});

storeTest("cancel of a blocked job cancels it, and the jobs waiting on it", async (tmp) => {
  await addJobs(tmp.db, [
    { id: "p1", state: "pending" },
    { id: "b1", state: "blocked", after: ["p1"] },
    { id: "b2", state: "blocked", after: ["b1"] },
  ]);
  assert.equal(assertOk(await runCli(["cancel", "b1"], { db: tmp.db })), "job b1 cancelled\n");
  assert.equal((await show(tmp.db, "b1")).state, "cancelled");
  const b2 = await show(tmp.db, "b2");
  assert.equal(b2.state, "cancelled");
  assert.match(b2.last_error!, /dependency "b1" was cancelled/);
  assert.equal((await show(tmp.db, "p1")).state, "pending", "a dependency is not touched");
});

storeTest(
  "retry of a cancelled job: pending again, or blocked while a dependency is open",
  async (tmp) => {
    await addJobs(tmp.db, [
      { id: "x1", state: "cancelled" },
      { id: "p1", state: "pending" },
      { id: "b1", state: "blocked", after: ["p1"] },
    ]);
    assertOk(await runCli(["cancel", "b1"], { db: tmp.db }));
    const out = assertOk(await runCli(["retry", "x1", "b1"], { db: tmp.db }));
    assert.equal(
      out,
      "job x1 is pending again (attempts so far: 0)\n" +
        "job b1 is blocked again until its dependencies complete\n",
    );
    const x1 = await show(tmp.db, "x1");
    assert.equal(x1.state, "pending");
    assert.equal(x1.attempts, 0);
    assert.equal((await show(tmp.db, "b1")).state, "blocked");
  },
);

storeTest(
  "retry of a job cancelled by its dead dependency is refused until that is retried",
  async (tmp) => {
    await addJobs(tmp.db, [
      { id: "p1", state: "pending" },
      { id: "b1", state: "blocked", after: ["p1"] },
    ]);
    assertOk(await runCli(["cancel", "p1"], { db: tmp.db }));
    assert.equal((await show(tmp.db, "b1")).state, "cancelled");
    const refused = await runCli(["retry", "b1"], { db: tmp.db });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: .*dependency "p1" is cancelled/);
    assertOk(await runCli(["retry", "p1"], { db: tmp.db }));
    assertOk(await runCli(["retry", "b1"], { db: tmp.db }));
    assert.equal((await show(tmp.db, "b1")).state, "blocked");
  },
);

// ----- unique keys

storeTest(
  "enqueue of an active key keeps the existing job: its id on stdout, a note on stderr",
  async (tmp) => {
    const first = await runCli(["enqueue", "--id", "one", "--key", "nightly", "--", "true"], {
      db: tmp.db,
    });
    assert.equal(assertOk(first), "one\n");
    const again = await runCli(
      ["enqueue", '{"id":"two","command":"true","key":"nightly"}'],
      { db: tmp.db },
    );
    assert.equal(assertOk(again), "one\n");
    assert.equal(again.stderr, 'job with key "nightly" already exists: one\n');
    const asJson = await runCli(
      ["enqueue", "--json", "--key", "nightly", "--on-conflict", "keep", "--", "true"],
      { db: tmp.db },
    );
    assert.equal((JSON.parse(assertOk(asJson)) as Job).id, "one", "--json prints the existing job");
    const jobs = await cliJson<Job[]>(["list"], { db: tmp.db });
    assert.deepEqual(jobs.map((j) => j.id), ["one"]);
  },
);

storeTest("a key is free again once its job is final", async (tmp) => {
  await addJobs(tmp.db, [{ id: "old", state: "completed", key: "k" }]);
  const out = assertOk(
    await runCli(["enqueue", "--id", "new", "--key", "k", "--", "true"], { db: tmp.db }),
  );
  assert.equal(out, "new\n");
  assert.equal((await show(tmp.db, "new")).state, "pending");
});

storeTest(
  "--on-conflict replace cancels a pending holder of the key and adds the job",
  async (tmp) => {
    assertOk(await runCli(["enqueue", "--id", "old", "--key", "k", "--", "true"], { db: tmp.db }));
    const result = await runCli(
      ["enqueue", "--on-conflict", "replace", '{"id":"new","command":"true","key":"k"}'],
      { db: tmp.db },
    );
    assert.equal(assertOk(result), "new\n");
    assert.match(result.stderr, /replaced job old/);
    const old = await show(tmp.db, "old");
    assert.equal(old.state, "cancelled");
    assert.equal(old.last_error, "replaced by new");
    assert.equal((await show(tmp.db, "new")).state, "pending");
  },
);

storeTest("--on-conflict fail is exit 1 naming the holder; nothing is added", async (tmp) => {
  assertOk(await runCli(["enqueue", "--id", "old", "--key", "k", "--", "true"], { db: tmp.db }));
  const result = await runCli(
    ["enqueue", "--on-conflict", "fail", "--id", "new", "--key", "k", "--", "true"],
    { db: tmp.db },
  );
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /^error: .*key "k" is held by job "old"/);
  assert.equal(result.stderr.trimEnd().split("\n").length, 1);
  const jobs = await cliJson<Job[]>(["list"], { db: tmp.db });
  assert.deepEqual(jobs.map((j) => j.id), ["old"]);
});

storeTest(
  "a batch keeps out lines whose key is active, also between its own lines",
  async (tmp) => {
    assertOk(await runCli(["enqueue", "--id", "held", "--key", "a", "--", "true"], { db: tmp.db }));
    const result = await runCli(["enqueue", "--file", "-"], {
      db: tmp.db,
      stdin: ndjson(
        { id: "j1", command: "true", key: "a" },
        { id: "j2", command: "true", key: "b" },
        { id: "j3", command: "true", key: "b" },
        { id: "j4", command: "true" },
      ),
    });
    assert.equal(assertOk(result), "enqueued 2 jobs, 2 already queued by key\n");
    const ids = (await cliJson<Job[]>(["list"], { db: tmp.db })).map((j) => j.id).sort();
    assert.deepEqual(ids, ["held", "j2", "j4"]);
    const asJson = await runCli(["enqueue", "--file", "-", "--json"], {
      db: tmp.db,
      stdin: ndjson({ id: "j5", command: "true", key: "a" }, { id: "j6", command: "true" }),
    });
    const added = JSON.parse(assertOk(asJson)) as Job[];
    assert.deepEqual(added.map((j) => j.id), ["j6"], "--json lists the jobs added");
  },
);

storeTest("a batch with --on-conflict replace says how many it replaced", async (tmp) => {
  assertOk(await runCli(["enqueue", "--id", "held", "--key", "a", "--", "true"], { db: tmp.db }));
  const result = await runCli(["enqueue", "--on-conflict", "replace", "--file", "-"], {
    db: tmp.db,
    stdin: ndjson({ id: "j1", command: "true", key: "a" }, { id: "j2", command: "true" }),
  });
  assert.equal(assertOk(result), "enqueued 2 jobs, replacing 1 active job by key\n");
  assert.equal((await show(tmp.db, "held")).last_error, "replaced by j1");
});

storeTest(
  "two processes enqueueing one key 50 times each at once add exactly one job",
  async (tmp) => {
    const script = new URL("./_enqueue_key.ts", import.meta.url).pathname;
    // Both begin at the same moment, whenever each process is up.
    const startAt = Date.now() + 3000;
    const spawn = (prefix: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", script, tmp.db, prefix, "50", "shared", String(startAt)],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outputs = await Promise.all([spawn("a"), spawn("b")]);
    const decoder = new TextDecoder();
    const printed: string[] = [];
    for (const output of outputs) {
      assert.equal(output.code, 0, decoder.decode(output.stderr));
      printed.push(...decoder.decode(output.stdout).trim().split("\n"));
    }
    const jobs = await cliJson<Job[]>(["list", "--limit", "1000"], { db: tmp.db });
    assert.equal(jobs.length, 1, `jobs: ${jobs.map((j) => j.id).join(", ")}`);
    assert.equal(printed.length, 100);
    assert.deepEqual(new Set(printed), new Set([jobs[0]!.id]), "every enqueue printed the holder");
  },
);

// ----- retry_on

storeTest("retry_on [75] retries exit 75 and sends exit 2 to the DLQ at once", async (tmp) => {
  await configSet(tmp.db, "backoff_base", 1);
  const marker = `${tmp.dir}/ran-once`;
  // The first attempt exits 75 (listed: retried), the second exits 2 (not listed).
  const command = `if [ -e '${marker}' ]; then exit 2; fi; touch '${marker}'; exit 75`;
  assertOk(
    await runCli(
      ["enqueue", JSON.stringify({ id: "r", command, max_retries: 5, retry_on: [75] })],
      { db: tmp.db },
    ),
  );
  await using _worker = await startWorker(tmp.db);
  const waited = await runCli(["wait", "r", "--timeout", "60s"], { db: tmp.db });
  assert.equal(waited.code, 1, waited.stderr);
  assert.match(waited.stderr, /"r" dead/);
  const job = await show(tmp.db, "r");
  assert.equal(job.state, "dead");
  assert.equal(job.attempts, 2, "no retry after exit 2, though 4 retries were left");
  assert.deepEqual(job.runs.map((r) => [r.outcome, r.exit_code]), [["failed", 75], ["failed", 2]]);
  assert.match(job.last_error!, /exit 2 is not in retry_on \[75\]; not retried/);
});

storeTest("enqueue --retry-on takes exit codes and timeout, comma-separated", async (tmp) => {
  assertOk(
    await runCli(["enqueue", "--id", "r", "--retry-on", "75, 3,timeout", "--", "true"], {
      db: tmp.db,
    }),
  );
  assert.deepEqual((await show(tmp.db, "r")).retry_on, [75, 3, "timeout"]);
});

storeTest(
  'retry_on with "timeout" retries a timed-out attempt; without it, the job is dead',
  async (tmp) => {
    await configSet(tmp.db, "backoff_base", 1);
    const job = (id: string, retry_on: unknown[]) =>
      JSON.stringify({ id, command: "sleep 5", timeout: 0.3, max_retries: 1, retry_on });
    assertOk(await runCli(["enqueue", job("with", [1, "timeout"])], { db: tmp.db }));
    assertOk(await runCli(["enqueue", job("without", [1])], { db: tmp.db }));
    await using _worker = await startWorker(tmp.db, ["--count", "2"]);
    const waited = await runCli(["wait", "with", "without", "--timeout", "60s"], { db: tmp.db });
    assert.equal(waited.code, 1, waited.stderr);
    const [withTimeout, without] = await Promise.all([
      show(tmp.db, "with"),
      show(tmp.db, "without"),
    ]);
    assert.equal(withTimeout.state, "dead");
    assert.equal(withTimeout.attempts, 2, "the timeout was retried once, its budget");
    assert.equal(without.attempts, 1);
    assert.match(without.last_error!, /timed out.*"timeout" is not in retry_on \[1\]; not retried/);
  },
);
