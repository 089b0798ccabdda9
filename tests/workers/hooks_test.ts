/**
 * `on_finish` hooks end to end (README "Hooks"): their environment, their
 * result on the attempt and as an event, a failing or hanging hook that
 * changes nothing, and a slow hook that does not slow a drain.
 */
import assert from "node:assert/strict";
import { runCli, tempDir, waitFor } from "../_helpers.ts";
import { configSet, enqueue, show, startWorker, status } from "./_worker_process.ts";

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
  // the slots they cost only their own process starts.
  assert.ok(hooked < plain * 3 + 10_000, `${hooked} ms with hooks vs ${plain} ms without`);
});
