/** The captured output of attempts as `logs` shows it, after the run and while it runs. */
import assert from "node:assert/strict";
import { cliCommand, withTempDb } from "../_helpers.ts";
import { cliOk, enqueue, startWorker, waitForState, within } from "./_worker_process.ts";

Deno.test("logs of a finished job prints its stdout and stderr on the matching streams", async () => {
  await using tmp = await withTempDb();
  await enqueue(tmp.db, { id: "chatty", command: "echo out line; echo err line >&2" });
  await using worker = await startWorker(tmp.db);
  await waitForState(tmp.db, "chatty", "completed", { workers: [worker] });
  const logs = await cliOk(["logs", "chatty"], { db: tmp.db });
  assert.equal(logs.stdout, "out line\n");
  assert.equal(logs.stderr, "err line\n");
  assert.equal((await worker.stop()).code, 0, worker.log());
});

Deno.test("logs --follow of a running job prints every line and ends when the job ends", async () => {
  await using tmp = await withTempDb();
  await enqueue(tmp.db, {
    id: "ticker",
    command: "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.4; done",
  });
  await using worker = await startWorker(tmp.db);
  await waitForState(tmp.db, "ticker", "processing", { workers: [worker] });
  const follow = cliCommand(["logs", "ticker", "--follow"], { db: tmp.db }).spawn();
  let printed = "";
  let firstLineAt: number | null = null;
  const reading = (async () => {
    for await (const text of follow.stdout.pipeThrough(new TextDecoderStream())) {
      firstLineAt ??= Date.now();
      printed += text;
    }
  })();
  const errors = new Response(follow.stderr).text();
  const status = await within(follow.status, 15_000);
  if (!status) follow.kill("SIGKILL");
  await Promise.all([follow.status, reading, errors]);
  assert.ok(status, "logs --follow did not end when the job ended");
  assert.equal(status.code, 0, await errors);
  assert.equal(printed, [1, 2, 3, 4, 5, 6].map((i) => `line ${i}\n`).join(""));

  const job = await waitForState(tmp.db, "ticker", "completed", { workers: [worker] });
  // It printed while the job ran, not only at the end.
  assert.ok(
    firstLineAt! < Date.parse(job.runs[0]!.finished_at!),
    "the first line appeared only after the job had ended",
  );
  assert.equal((await worker.stop()).code, 0, worker.log());
});
