/**
 * `on_finish` hooks end to end (README "Hooks"): their environment, their
 * result on the attempt and as an event, a failing or hanging hook that
 * changes nothing, a slow hook that does not slow a drain, and the hook
 * of a job cancelled while not running (once, from the event log, on both
 * stores).
 */
import assert from "node:assert/strict";
import type { QueueEvent } from "../../lib/event.ts";
import { pgTest } from "../_postgres.ts";
import { runCli, tempDir, waitFor } from "../_helpers.ts";
import {
  cliOk,
  configSet,
  enqueue,
  show,
  startWorker,
  status,
  uniqueSleep,
  waitForState,
} from "./_worker_process.ts";

Deno.test("a hook gets the attempt's facts and output; its failure or hang changes nothing", async () => {
  await using dir = await tempDir();
  const db = `${dir.path}/q.db`;
  const seen = `${dir.path}/seen.txt`;
  await configSet(db, "hook_timeout", 1);
  await configSet(db, "max_retries", 0);
  await enqueue(db, {
    id: "env",
    command: "echo out-line; exit 4",
    queue: "mail",
    env: { MINE: "yes" },
    on_finish:
      `echo "$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT $QUEUECTL_STATE $QUEUECTL_EXIT_CODE $QUEUECTL_OUTCOME $QUEUECTL_QUEUE $MINE" > '${seen}'; cat "$QUEUECTL_OUTPUT" >> '${seen}'`,
  });
  await enqueue(db, { id: "fails", command: "true", on_finish: "echo no >&2; exit 3" });
  await enqueue(db, { id: "hangs", command: "true", on_finish: "sleep 30" });
  await using worker = await startWorker(db, ["--count", "2"]);
  const hooked = async (id: string) => (await show(db, id)).runs[0]?.hook ?? null;
  await waitFor(
    async () => (await hooked("env")) && (await hooked("fails")) && (await hooked("hangs")),
    {
      timeoutMs: 20_000,
    },
  );
  assert.equal(
    await Deno.readTextFile(seen),
    "env 1 dead 4 failed mail yes\nout-line\n",
  );
  const fails = await show(db, "fails");
  assert.equal(fails.state, "completed");
  assert.deepEqual([fails.runs[0]!.hook!.outcome, fails.runs[0]!.hook!.exit_code], ["failed", 3]);
  assert.match(fails.runs[0]!.hook!.error!, /exit code 3: no/);
  const hangs = await show(db, "hangs");
  assert.equal(hangs.state, "completed");
  assert.equal(hangs.attempts, 1);
  assert.equal(hangs.runs[0]!.hook!.outcome, "timed_out");
  const events = await runCli(["events", "--type", "hook"], { db });
  assert.equal(events.stdout.trim().split("\n").length, 3);
  await worker.stop();
  assert.match(
    worker.stdout() + worker.stderr(),
    /on_finish hook of job fails attempt 1: exit code 3/,
  );
});

Deno.test("a hook that sleeps 5 s does not slow a 1,000-job drain", async () => {
  await using dir = await tempDir();
  const drain = async (db: string) => {
    const file = `${dir.path}/jobs.ndjson`;
    await Deno.writeTextFile(
      file,
      Array.from({ length: 1000 }, (_, i) => JSON.stringify({ command: "true", id: `j${i}` }))
        .join("\n"),
    );
    assert.equal((await runCli(["enqueue", "--file", file], { db })).code, 0);
    const started = performance.now();
    await using worker = await startWorker(db, ["--count", "4"]);
    await waitFor(async () => (await status(db)).counts.completed === 1000, {
      timeoutMs: 300_000,
      intervalMs: 100,
    });
    const ms = performance.now() - started;
    await worker.stop();
    return ms;
  };
  const plain = await drain(`${dir.path}/plain.db`);
  const hookedDb = `${dir.path}/hooked.db`;
  await configSet(hookedDb, "on_finish", "sleep 5");
  const hooked = await drain(hookedDb);
  console.log(`1,000 jobs: ${Math.round(plain)} ms without a hook, ${Math.round(hooked)} ms with`);
  // Run in the slot, 1,000 hooks of 5 s would take 1,250 s on 4 slots. Beside
  // the slots they cost only their own process starts; the bound leaves room
  // for a loaded machine and still fails by far for hooks that hold a slot.
  assert.ok(hooked < plain * 5 + 60_000, `${hooked} ms with hooks vs ${plain} ms without`);
});

/**
 * A pending job cancelled while two workers run gets its hook once (from
 * the event log), with QUEUECTL_STATE=cancelled and no exit code or
 * outcome; a job cancelled while running gets its own worker's hook, once.
 */
async function cancelledHooksRunOnce(db: string, dir: string): Promise<void> {
  const pendingMarker = `${dir}/pending.txt`;
  const runningMarker = `${dir}/running.txt`;
  const line = `"$QUEUECTL_JOB_ID $QUEUECTL_STATE $QUEUECTL_ATTEMPT [$QUEUECTL_EXIT_CODE]` +
    ` [$QUEUECTL_OUTCOME] [$QUEUECTL_ERROR] $MINE"`;
  await enqueue(db, {
    id: "waits",
    command: "true",
    run_at: new Date(Date.now() + 3_600_000).toISOString(),
    env: { MINE: "yes" },
    on_finish: `echo ${line} >> '${pendingMarker}'`,
  });
  await enqueue(db, {
    id: "runs",
    command: uniqueSleep(),
    on_finish: `echo ${line} >> '${runningMarker}'`,
  });
  await using first = await startWorker(db);
  await using second = await startWorker(db);
  await waitForState(db, "runs", "processing", { timeoutMs: 20_000 });
  await cliOk(["cancel", "waits"], { db });
  await cliOk(["cancel", "runs"], { db });
  const hookEvents = async () =>
    (await runCli(["events", "--type", "hook"], { db })).stdout.trim().split("\n")
      .filter(Boolean).map((l) => JSON.parse(l) as QueueEvent);
  await waitFor(async () => (await hookEvents()).length >= 2, {
    timeoutMs: 30_000,
    message: "both hooks to run",
  });
  // Passes of both workers go on meanwhile: nothing runs twice.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  assert.equal(await Deno.readTextFile(pendingMarker), "waits cancelled 0 [] [] [] yes\n");
  assert.equal(
    await Deno.readTextFile(runningMarker),
    "runs cancelled 1 [] [cancelled] [cancelled while running] \n",
  );
  const events = await hookEvents();
  assert.deepEqual(events.map((e) => e.job).sort(), ["runs", "waits"]);
  const waits = events.find((e) => e.job === "waits")!;
  assert.equal(waits.outcome, "succeeded");
  assert.ok(waits.worker, "the hook event names the worker that ran it");
  const job = await show(db, "waits");
  assert.equal(job.state, "cancelled");
  assert.deepEqual(job.runs, [], "no attempt to hang it on: only the event");
  assert.equal((await show(db, "runs")).runs[0]?.hook?.outcome, "succeeded");
  await first.stop();
  await second.stop();
}

Deno.test("a job cancelled while pending runs its hook once, from the event log (SQLite)", async () => {
  await using dir = await tempDir();
  await cancelledHooksRunOnce(`${dir.path}/q.db`, dir.path);
});

pgTest(
  "a job cancelled while pending runs its hook once, from the event log (PostgreSQL)",
  async (server) => {
    await using dir = await tempDir();
    const db = server.newUrl();
    try {
      await cancelledHooksRunOnce(db, dir.path);
    } finally {
      const schema = new URL(db).searchParams.get("schema")!;
      await server.admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  },
);
