/**
 * Fencing on many hosts (DESIGN.md, "Fencing"): an owner whose lease is
 * taken from it ends its attempt within one heartbeat and writes nothing
 * for it; a claim whose answer was lost leaves nothing `processing` unrun;
 * jobs that ignore SIGTERM on a host cut off the network are SIGKILLed
 * before their leases expire, also while a cancel is already ending them.
 * Each asserts from the jobs' own stamps that no two attempts overlapped.
 */
import assert from "node:assert/strict";
import { type Host, multihostTest } from "../_netns.ts";
import { waitFor } from "../_helpers.ts";
import { cliOk, configSet, enqueue, enqueueMany, read } from "../workers/_worker_process.ts";
import { AttemptWatch, loggedJob } from "./_events.ts";
import { assertOnceAtATime, jobRows, serverMs, showAttempts, waitSettled } from "./_fencing.ts";

multihostTest(
  "a live owner whose lease is taken ends its attempt within one heartbeat and never writes its result",
  async (t) => {
    const [a, b] = t.hosts as [Host, Host];
    const file = `${t.dir}/events.log`;
    await configSet(t.db, "lease_timeout", 6); // heartbeats every 2 s
    await configSet(t.db, "backoff_base", 5); // the retry waits 5 s: past one heartbeat
    await using watch = new AttemptWatch(file);
    // Host B starts first, so it holds the rescuer's turn; it serves another
    // queue, so only host A runs the job (and only B's rescuer takes it).
    await t.startWorker(b, { args: ["--count", "1", "--queue", "elsewhere"] });
    const wa = await t.startWorker(a);
    const body = `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then sleep 40; fi`;
    await enqueue(t.db, { id: "taken", command: loggedJob(file, body) });
    await waitFor(() => watch.attempts().some((x) => x.id === "taken"), {
      timeoutMs: 20_000,
      message: `host A to start the job\n${wa.log()}`,
    });
    // Expire the lease by hand until a rescuer takes the job (the owner's
    // renewals restore it meanwhile: they never shorten, but this write does).
    await waitFor(async () => {
      await t.admin(
        `UPDATE jobs SET lease_expires_at = (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 1000
         WHERE id = 'taken' AND state = 'processing'`,
      );
      return (await jobRows(t, ["taken"])).get("taken")!.state !== "processing";
    }, { timeoutMs: 20_000, intervalMs: 100, message: `a rescuer to take the job\n${t.logs()}` });
    const rescued = await read.job(t.db, "taken");
    const rescuedAt = Date.parse(rescued.runs[0]!.finished_at!);
    const first = await waitFor(() => {
      watch.poll();
      const x = watch.attempts().find((x) => x.id === "taken" && x.attempt === 1);
      return x?.goneAt ? x : null;
    }, { timeoutMs: 10_000, intervalMs: 50, message: `host A to end attempt 1\n${t.logs()}` });
    const endedAfterMs = first.goneAt! - rescuedAt;
    assert.ok(endedAfterMs <= 2000 + 1000, `attempt 1 ended ${endedAfterMs} ms after the rescue`);
    await waitFor(() => /no longer this worker's/.test(wa.stderr()), {
      timeoutMs: 5000,
      message: `host A to say the attempt was lost\n${wa.log()}`,
    });

    const done = await waitSettled(t, ["taken"], 30_000);
    assert.equal(done.get("taken")!.attempts, 2);
    const job = await read.job(t.db, "taken");
    assert.deepEqual(job.runs.map((r) => [r.attempt, r.outcome]), [
      [1, "interrupted"],
      [2, "succeeded"],
    ]);
    assert.match(job.runs[0]!.error ?? "", /lease of worker .* expired/, "the owner wrote nothing");
    await assertOnceAtATime(t, watch, ["taken"]);
    console.log(`attempt 1 ended ${endedAfterMs} ms after its rescue`);
  },
  { hosts: 2 },
);

multihostTest(
  "a claim whose answer was lost leaves nothing processing unrun",
  async (t) => {
    const [a] = t.hosts as [Host];
    const file = `${t.dir}/events.log`;
    await configSet(t.db, "lease_timeout", 30); // a lease-based rescue would take 30 s
    await using watch = new AttemptWatch(file);
    const ids = ["g1", "g2", "g3"];
    await enqueueMany(t.db, ids.map((id) => ({ id, command: loggedJob(file, "true") })));
    const enqueuedAt = Date.now();
    // The first claim commits, and its answer is thrown away.
    const wa = await t.startWorker(a, { env: { QUEUECTL_TEST_DROP_CLAIM_ANSWERS: "1" } });
    await waitFor(() => /answer was lost/.test(wa.stderr()), {
      timeoutMs: 10_000,
      message: `host A to lose its first claim's answer\n${wa.log()}`,
    });
    const rows = await waitSettled(t, ids, 15_000);
    const settledMs = Date.now() - enqueuedAt;
    for (const id of ids) {
      assert.equal(rows.get(id)!.attempts, 1, "the lost claim's attempt is not counted");
      const job = await read.job(t.db, id);
      assert.deepEqual(job.runs.map((r) => [r.attempt, r.outcome]), [
        [1, "interrupted"],
        [1, "succeeded"],
      ]);
      assert.match(job.runs[0]!.error ?? "", /given back unrun/);
    }
    const attempts = await assertOnceAtATime(t, watch, ids);
    assert.equal(attempts.length, 3, showAttempts(attempts));
    assert.ok(settledMs < 10_000, `given back after ${settledMs} ms, not within heartbeats`);
    console.log(`lost claim given back and run within ${settledMs} ms`);
  },
  { hosts: 2 },
);

multihostTest(
  "jobs that ignore SIGTERM on a cut-off host end before their leases, also while being cancelled",
  async (t) => {
    const [a, b] = t.hosts as [Host, Host];
    const file = `${t.dir}/events.log`;
    // A 2 s lease: a cancel's 3 s SIGTERM grace would outlast it.
    await configSet(t.db, "lease_timeout", 2);
    await configSet(t.db, "backoff_base", 1);
    await using watch = new AttemptWatch(file);
    const wa = await t.startWorker(a);
    const body = `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then trap '' TERM; ` +
      `i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; fi`;
    const ids = ["t1", "t2", "t3", "t4"];
    await enqueueMany(t.db, ids.map((id) => ({ id, command: loggedJob(file, body) })));
    await waitFor(() => watch.attempts().length === 4, {
      timeoutMs: 20_000,
      message: `host A to start 4 jobs\n${wa.log()}`,
    });
    await t.startWorker(b);
    // Two are being cancelled (SIGTERM, ignored) when the link goes.
    await cliOk(["cancel", "t1", "t2"], { db: t.db });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await t.cut(a);
    const cutAt = Date.now();
    const leases = await jobRows(t, ids);
    const offset = (await serverMs(t)) - Date.now();
    try {
      await waitFor(() => {
        watch.poll();
        return watch.attempts().filter((x) => x.host === a.name).every((x) => x.goneAt !== null);
      }, { timeoutMs: 10_000, intervalMs: 50, message: `host A's jobs to end\n${wa.log()}` });
      for (const x of watch.attempts().filter((x) => x.host === a.name)) {
        const lease = leases.get(x.id)!.lease!;
        assert.ok(
          x.goneAt! + offset < lease,
          `${x.id} ended at ${x.goneAt! + offset}, after its lease ${lease} (cut at ${cutAt})`,
        );
      }
    } finally {
      await t.restore(a);
    }
    await waitSettled(t, ["t3", "t4"], 30_000);
    await waitSettled(t, ids, 30_000, ["completed", "cancelled", "failed", "dead"]);
    await assertOnceAtATime(t, watch, ["t3", "t4"]);
    const margins = watch.attempts().filter((x) => x.host === a.name && x.attempt === 1)
      .map((x) => `${x.id} ${Math.round(leases.get(x.id)!.lease! - (x.goneAt! + offset))} ms`);
    console.log(`host A's jobs ended before their leases by: ${margins.join(", ")}`);
  },
  { hosts: 2 },
);
