/**
 * Job flow at scale (README "Job flow"): a fan-in of 1,000 dependencies on one job
 * and a chain of 1,000 jobs both complete, with `worker start --count 4`,
 * and `wait` on them returns 0. Deadlines are generous: the point is that
 * nothing scans every blocked job per completion (which would take minutes).
 */
import assert from "node:assert/strict";
import type { JobWithRuns } from "../../lib/job.ts";
import { cliJson, runCli, storeTest } from "../_helpers.ts";
import { startWorker } from "../workers/_worker_process.ts";
import { assertOk } from "./_cli.ts";

const N = 1000;
const id = (prefix: string, i: number) => `${prefix}${String(i).padStart(4, "0")}`;

async function enqueueLines(db: string, jobs: Record<string, unknown>[]): Promise<void> {
  const result = await runCli(["enqueue", "--file", "-"], {
    db,
    stdin: jobs.map((job) => JSON.stringify(job)).join("\n"),
  });
  assert.equal(assertOk(result), `enqueued ${jobs.length} jobs\n`);
}

storeTest("a fan-in of 1,000 dependencies on one job completes", async (tmp) => {
  const deps = Array.from({ length: N }, (_, i) => id("f", i));
  await enqueueLines(tmp.db, [
    ...deps.map((dep) => ({ id: dep, command: "true" })),
    { id: "sink", command: "true", after: deps },
  ]);
  const before = await cliJson<JobWithRuns>(["show", "sink"], { db: tmp.db });
  assert.equal(before.state, "blocked");
  assert.equal(before.dependencies.length, N);

  await using _worker = await startWorker(tmp.db, ["--count", "4"]);
  const started = Date.now();
  const waited = await runCli(["wait", "sink", ...deps, "--timeout", "100s"], { db: tmp.db });
  assert.equal(waited.code, 0, waited.stderr);
  const sink = await cliJson<JobWithRuns>(["show", "sink"], { db: tmp.db });
  assert.equal(sink.state, "completed");
  const lastDep = Math.max(
    ...(await Promise.all(
      [deps[0]!, deps[N - 1]!].map((dep) => cliJson<JobWithRuns>(["show", dep], { db: tmp.db })),
    )).map((j) => Date.parse(j.runs[0]!.finished_at!)),
  );
  assert.ok(Date.parse(sink.runs[0]!.started_at) >= lastDep, "the sink ran after its dependencies");
  console.log(`fan-in of ${N}: done in ${Date.now() - started} ms`);
});

storeTest("a chain of 1,000 jobs completes in order", async (tmp) => {
  await enqueueLines(
    tmp.db,
    Array.from({ length: N }, (_, i) => ({
      id: id("c", i),
      command: "true",
      ...(i > 0 ? { after: id("c", i - 1) } : {}),
    })),
  );
  await using _worker = await startWorker(tmp.db, ["--count", "4"]);
  const started = Date.now();
  const waited = await runCli(["wait", id("c", N - 1), "--timeout", "150s"], { db: tmp.db });
  assert.equal(waited.code, 0, waited.stderr);
  const [a, b] = await Promise.all(
    [id("c", N - 2), id("c", N - 1)].map((j) => cliJson<JobWithRuns>(["show", j], { db: tmp.db })),
  );
  assert.equal(a!.state, "completed");
  assert.ok(Date.parse(b!.runs[0]!.started_at) >= Date.parse(a!.runs[0]!.finished_at!));
  console.log(`chain of ${N}: done in ${Date.now() - started} ms`);
});
