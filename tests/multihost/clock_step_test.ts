/**
 * Clocks that step mid-run (DESIGN.md, "Fencing"): leases, the rescuer's
 * turn and due times are judged by the server's clock inside each
 * statement, so steps of +60 s and -60 s on the host holding the rescuer
 * turn and on an owner change nothing about who runs what. The step is
 * the test hook `QUEUECTL_TEST_CLOCK_FILE` (re-read every 100 ms).
 */
import assert from "node:assert/strict";
import { type Host, type MultihostContext, multihostTest } from "../_netns.ts";
import { waitFor } from "../_helpers.ts";
import { configSet, enqueueMany, read } from "../workers/_worker_process.ts";
import { AttemptWatch, loggedJob } from "./_events.ts";
import { assertOnceAtATime, waitSettled } from "./_fencing.ts";

const STEP_MS = 60_000;

/** The host whose worker holds the rescuer's turn now. */
async function turnHolder(t: MultihostContext): Promise<Host> {
  const [row] = await t.admin(
    `SELECT w.host FROM turns r JOIN workers w ON w.id = r.holder WHERE r.name = 'rescuer'`,
  );
  const host = t.hosts.find((h) => h.name === row?.host);
  assert.ok(host, `no host holds the rescuer's turn: ${JSON.stringify(row)}`);
  return host;
}

/** Steps `host`'s clock to `ms` off and waits until its heartbeats show it (the hook works). */
async function step(t: MultihostContext, host: Host, ms: number): Promise<void> {
  await Deno.writeTextFile(`${t.dir}/${host.name}.clock`, String(ms));
  await waitFor(async () => {
    const w = (await read.workers(t.db)).find((w) => w.host === host.name);
    return w !== undefined && Math.abs(w.clock_offset_ms - ms) < 2000;
  }, {
    timeoutMs: 8000,
    intervalMs: 200,
    message: `${host.name}'s heartbeats to show a clock ${ms} ms off\n${t.logs()}`,
  });
}

multihostTest(
  "clock steps of +60 s and -60 s on the rescuer's host and on an owner change nothing",
  async (t) => {
    const [a, b] = t.hosts as [Host, Host];
    const file = `${t.dir}/events.log`;
    await configSet(t.db, "lease_timeout", 6);
    await using watch = new AttemptWatch(file);
    for (const host of [a, b]) await Deno.writeTextFile(`${t.dir}/${host.name}.clock`, "0");
    await Promise.all([a, b].map((host) =>
      t.startWorker(host, {
        env: { QUEUECTL_TEST_CLOCK_FILE: `${t.dir}/${host.name}.clock` },
      })
    ));
    // Longer than the lease and than every step below: renewed all along.
    const ids = Array.from({ length: 8 }, (_, i) => `step-${i}`);
    await enqueueMany(t.db, ids.map((id) => ({ id, command: loggedJob(file, "sleep 24") })));
    await waitFor(() => new Set(watch.attempts().map((x) => x.host)).size === 2, {
      timeoutMs: 20_000,
      message: `both hosts to run jobs\n${t.logs()}`,
    });
    const holder = await turnHolder(t);
    const owner = holder === a ? b : a;
    // The rescuer's host: ahead (every lease looks expired by its clock), then behind.
    await step(t, holder, STEP_MS);
    await step(t, holder, -STEP_MS);
    await step(t, holder, 0);
    // An owner: behind (leases by its clock would be written short), then ahead.
    await step(t, owner, -STEP_MS);
    await step(t, owner, STEP_MS);
    assert.equal((await turnHolder(t)).name, holder.name, "the turn stayed with its holder");

    const rows = await waitSettled(t, ids, 60_000);
    for (const id of ids) {
      const job = await read.job(t.db, id);
      assert.deepEqual(
        job.runs.map((r) => r.outcome),
        ["succeeded"],
        `${id} was rescued: ${JSON.stringify(job.runs)}\n${t.logs()}`,
      );
      assert.equal(rows.get(id)!.attempts, 1);
    }
    await assertOnceAtATime(t, watch, ids);
  },
  { hosts: 2 },
);
