/**
 * The job worker's runner, driven in this isolate: a run that throws still
 * reports `finished` (and the job ends failed, not processing forever);
 * many jobs run side by side in one isolate without starving it.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/config.ts";
import type { ClaimedJob } from "../../lib/storage/storage.ts";
import { finishRecord } from "../../workers/completer.ts";
import { jobRunner } from "../../workers/job_runner.ts";
import type { FromJobWorker, RunRequest } from "../../workers/messages.ts";
import { SLOTS_PER_WEB_WORKER } from "../../workers/slot_pool.ts";
import { waitFor } from "../_helpers.ts";

function request(id: string, command: string): RunRequest {
  return {
    id,
    attempt: 1,
    command,
    cwd: null,
    env: null,
    timeoutMs: 0,
    outputLimit: 65536,
    fenceGraceMs: 3000,
  };
}

Deno.test("a runCommand that throws still finishes the job, as failed", async () => {
  const posted: FromJobWorker[] = [];
  const handle = jobRunner((m) => posted.push(m), () => {
    throw new Error("spawn exploded");
  });
  handle({ type: "run", request: request("boom", "true") });
  const finished = await waitFor(
    () => posted.find((m) => m.type === "finished"),
    { message: "finished to be posted" },
  );
  assert.equal(finished.type, "finished");
  if (finished.type !== "finished") return;
  assert.deepEqual(finished.result.outcome, {
    kind: "spawnFailed",
    error: "cannot run: spawn exploded",
  });
  // What the completer makes of it: a failed attempt with a retry, then the DLQ.
  const job = { id: "boom", attempt: 1, max_retries: null } as unknown as ClaimedJob;
  const end = { slot: 1, job, startedAt: 0, result: finished.result, config: defaultConfig() };
  const first = finishRecord({ ...end, maxRetries: 1 }, "w1", Date.now());
  assert.equal(first.finish.state, "failed");
  assert.equal(first.finish.outcome, "spawn_failed");
  assert.match(first.finish.error ?? "", /spawn exploded/);
  const last = finishRecord({ ...end, maxRetries: 0 }, "w1", Date.now());
  assert.equal(last.finish.state, "dead");
});

Deno.test("a rejected run of one job leaves the others in the same isolate running", async () => {
  const posted: FromJobWorker[] = [];
  const handle = jobRunner((m) => posted.push(m), (req, options) => {
    if (req.id === "bad") return Promise.reject(new Error("lost the pipe"));
    return import("../../workers/run_command.ts").then((m) => m.runCommand(req, options));
  });
  handle({ type: "run", request: request("good", "echo fine") });
  handle({ type: "run", request: request("bad", "true") });
  await waitFor(() => posted.filter((m) => m.type === "finished").length === 2, {
    message: "both to finish",
  });
  const outcome = (id: string) => {
    const m = posted.find((p) => p.type === "finished" && p.id === id);
    return m?.type === "finished" ? m.result.outcome.kind : null;
  };
  assert.equal(outcome("good"), "succeeded");
  assert.equal(outcome("bad"), "spawnFailed");
});

Deno.test(
  `${
    2 * SLOTS_PER_WEB_WORKER
  } long jobs in one isolate leave it free: a short job and a file read are not held up`,
  async () => {
    const long = 2 * SLOTS_PER_WEB_WORKER;
    const posted: FromJobWorker[] = [];
    const startedAt = new Map<string, number>();
    const finishedAt = new Map<string, number>();
    const handle = jobRunner((m) => {
      posted.push(m);
      if (m.type === "started") startedAt.set(m.id, performance.now());
      if (m.type === "finished") finishedAt.set(m.id, performance.now());
    });
    const handleAndSee = (req: RunRequest) => handle({ type: "run", request: req });
    // Each long job writes output, so its pipes are being read the whole time.
    for (let i = 0; i < long; i++) {
      handleAndSee(request(`long${i}`, "echo start; sleep 4; echo end"));
    }
    await waitFor(() => startedAt.size === long, { message: "every long job to start" });
    const readStart = performance.now();
    await Deno.readTextFile("/etc/hostname").catch(() => Deno.readTextFile("/etc/passwd"));
    const readMs = performance.now() - readStart;
    handleAndSee(request("short", "echo quick"));
    await waitFor(() => finishedAt.has("short"), {
      timeoutMs: 20_000,
      message: "the short job to finish",
    });
    await waitFor(() => finishedAt.size === long + 1, {
      timeoutMs: 30_000,
      message: "every long job to finish",
    });
    const firstLongEnd = Math.min(
      ...[...finishedAt].filter(([id]) => id !== "short").map(([, t]) => t),
    );
    assert.ok(
      finishedAt.get("short")! < firstLongEnd,
      "the short job waited for the long ones to end (a starved isolate)",
    );
    assert.ok(readStart + readMs < firstLongEnd, `a file read took ${readMs.toFixed(0)} ms`);
    const failed = posted.filter((m) =>
      m.type === "finished" && m.result.outcome.kind !== "succeeded"
    );
    assert.deepEqual(failed, []);
  },
);

Deno.test("started is posted before finished: with it for a short job, on its own for a long one", async () => {
  const posted: { message: FromJobWorker; at: number }[] = [];
  const handle = jobRunner(
    (message) => posted.push({ message, at: performance.now() }),
    undefined,
    30,
  );
  handle({ type: "run", request: request("short", "true") });
  handle({ type: "run", request: request("long", "sleep 1") });
  await waitFor(() => posted.filter((p) => p.message.type === "finished").length === 2, {
    timeoutMs: 15_000,
    message: "both to finish",
  });
  const of = (id: string) => posted.filter((p) => p.message.id === id);
  assert.deepEqual(of("short").map((p) => p.message.type), ["started", "finished"]);
  assert.deepEqual(of("long").map((p) => p.message.type), ["started", "finished"]);
  // The long job's start went out while it ran (after 30 ms), not with its end a second later.
  const [started, finished] = of("long");
  assert.ok(finished!.at - started!.at > 500, "the long job's start waited for its end");
});
