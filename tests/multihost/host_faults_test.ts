/**
 * Workers on many hosts (DESIGN.md "PostgreSQL") when a host fails: a worker killed with SIGKILL,
 * and a host cut off the network for longer than the lease. Jobs log their
 * starts and ends to one file; the watcher notes when killed attempts'
 * processes were gone; every host shares one pid space (namespaces split
 * only the network), so only the host id keeps hosts off each other's
 * processes.
 */
import assert from "node:assert/strict";
import { multihostTest } from "../_netns.ts";
import { waitFor } from "../_helpers.ts";
import {
  configSet,
  enqueueMany,
  killWithWatchdog,
  read,
  status,
} from "../workers/_worker_process.ts";
import {
  attemptEnd,
  AttemptWatch,
  findOverlaps,
  groupMembers,
  loggedJob,
  processRuns,
} from "./_events.ts";
import { leases, show, waitAllCompleted } from "./_jobs.ts";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

multihostTest(
  "a worker killed with SIGKILL: other hosts rescue its jobs after the lease, leave its orphans alone, and never run a retry beside them",
  async (t) => {
    const [a, b, c] = t.hosts as [typeof t.hosts[0], typeof t.hosts[0], typeof t.hosts[0]];
    const file = `${t.dir}/events.log`;
    const release = `${t.dir}/release`;
    // Retries wait 5 s: long after the test lets the orphans end (see below).
    await configSet(t.db, "lease_timeout", 4);
    await configSet(t.db, "backoff_base", 5);
    await using watch = new AttemptWatch(file);
    const [wa] = await Promise.all([a, b, c].map((host) => t.startWorker(host)));
    // On host A, attempt 1 runs until the test releases it (at most 60 s);
    // everything else takes a second.
    const body = `if [ "$QUEUECTL_ATTEMPT" = 1 ] && [ "$QCTL_TEST_HOST" = ${a.name} ]; then ` +
      `i=0; while [ ! -e '${release}' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; ` +
      `else sleep 1; fi`;
    const ids = Array.from({ length: 16 }, (_, i) => `kill-${String(i).padStart(2, "0")}`);
    await enqueueMany(t.db, ids.map((id) => ({ id, command: loggedJob(file, body) })));

    await waitFor(() => watch.attempts().filter((x) => x.host === a.name).length === 4, {
      timeoutMs: 30_000,
      message: `host A to run 4 jobs\n${t.logs()}`,
    });
    const orphans = watch.attempts().filter((x) => x.host === a.name);
    const orphanIds = orphans.map((o) => o.id);

    // Its watchdog too (DESIGN.md "Watchdog"; watchdog_test.ts tests it): what
    // is left to test here is how the other hosts treat orphans.
    await killWithWatchdog(wa!.pid);
    await wa!.status;
    const killedAt = Date.now();
    await delay(300);
    const left = await leases(t, orphanIds);
    for (const [id, row] of left) {
      assert.equal(
        row.state,
        "processing",
        `job ${id} right after the kill: ${JSON.stringify(row)}`,
      );
      assert.ok(row.lease !== null);
    }
    for (const o of orphans) assert.ok(processRuns(o.pid), `orphan ${o.id} pid ${o.pid} runs`);

    // The others rescue the jobs once the lease has expired, not before.
    await waitFor(
      async () => [...(await leases(t, orphanIds)).values()].every((r) => r.state !== "processing"),
      {
        timeoutMs: 20_000,
        intervalMs: 100,
        message: `the orphaned jobs to be rescued\n${t.logs()}`,
      },
    );
    const rescuedSeenAt = Date.now();
    const rescueTimes: number[] = [];
    for (const id of orphanIds) {
      const job = await read.job(t.db, id);
      const first = job.runs[0];
      assert.ok(first, `job ${id} has no runs`);
      assert.equal(first.attempt, 1);
      assert.equal(first.outcome, "interrupted", JSON.stringify(job.runs));
      const rescuedAt = Date.parse(first.finished_at!);
      const lease = left.get(id)!.lease!;
      rescueTimes.push(rescuedAt - lease);
      assert.ok(
        rescuedAt >= lease,
        `job ${id} was rescued at ${rescuedAt}, ${lease - rescuedAt} ms before its lease ended ` +
          `(${lease}); killed at ${killedAt}: ${JSON.stringify(job.runs)}`,
      );
    }

    // No other host touched the orphans: they still run, now and after
    // another rescuer pass of every other host.
    for (const check of ["right after the rescue", "a heartbeat later"]) {
      if (check !== "right after the rescue") await delay(1500);
      for (const o of orphans) {
        assert.ok(
          processRuns(o.pid) && groupMembers(o.pid).length > 0,
          `orphan of job ${o.id} (pid ${o.pid}) was ended ${check} (rescue seen at ${rescuedSeenAt}; ` +
            `only hosts B and C run)\n${show(watch.attempts())}\n${t.logs()}`,
        );
      }
      assert.equal(
        watch.attempts().filter((x) => orphanIds.includes(x.id) && x.attempt > 1).length,
        0,
        `a retry started while its orphan still ran ${check}:\n${show(watch.attempts())}`,
      );
    }

    // Let the orphans end by themselves; the retries come 5 s after the rescue.
    await Deno.writeTextFile(release, "");
    await waitFor(
      () => watch.attempts().filter((x) => x.host === a.name).every((x) => x.endLine !== null),
      { timeoutMs: 5_000, message: "the released orphans to end" },
    );
    await waitAllCompleted(t, ids.length, 30_000);
    await watch.close();

    const attempts = watch.attempts();
    assert.deepEqual(findOverlaps(attempts), [], show(attempts));
    for (const id of orphanIds) {
      const retries = attempts.filter((x) => x.id === id && x.attempt > 1);
      assert.ok(retries.length >= 1, `job ${id} was not retried:\n${show(attempts)}`);
      for (const r of retries) assert.notEqual(r.host, a.name, `a retry ran on the dead host`);
    }
    // Nothing stays processing, through the real CLI.
    const final = await status(t.db);
    assert.equal(final.counts.completed, ids.length, JSON.stringify(final.counts));
    assert.equal(final.counts.processing, 0);
    console.log(
      `killed at ${killedAt}; rescued ${Math.min(...rescueTimes)}–${
        Math.max(...rescueTimes)
      } ms after the leases ended; orphans still ran 1.5 s after the rescue`,
    );
  },
);

multihostTest(
  "a host cut off for longer than the lease ends its jobs before the lease does, the others rescue them, and it goes on once back",
  async (t) => {
    const [a, b, c] = t.hosts as [typeof t.hosts[0], typeof t.hosts[0], typeof t.hosts[0]];
    const file = `${t.dir}/events.log`;
    const leaseMs = 6000;
    await configSet(t.db, "lease_timeout", leaseMs / 1000);
    await configSet(t.db, "backoff_base", 1);
    await using watch = new AttemptWatch(file);
    const wa = await t.startWorker(a);
    // Attempt 1 would run 30 s: well past the lease and the cut.
    const body = `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then sleep 30; else sleep 1; fi`;
    const ids = Array.from({ length: 4 }, (_, i) => `fence-${i}`);
    await enqueueMany(t.db, ids.map((id) => ({ id, command: loggedJob(file, body) })));
    await waitFor(() => watch.attempts().filter((x) => x.host === a.name).length === 4, {
      timeoutMs: 30_000,
      message: `host A to run the 4 jobs\n${t.logs()}`,
    });
    const [wb, wc] = await Promise.all([b, c].map((host) => t.startWorker(host)));

    const cutAt = Date.now();
    await t.cut(a);
    await delay(1000);
    // Host A can no longer renew: these are the leases the others go by.
    const cutLeases = await leases(t, ids);
    for (const [id, row] of cutLeases) {
      assert.equal(row.state, "processing", `job ${id} at the cut: ${JSON.stringify(row)}`);
    }

    // The others rescue every job and start its retry.
    await waitFor(
      () => ids.every((id) => watch.attempts().some((x) => x.id === id && x.attempt > 1)),
      {
        timeoutMs: leaseMs + 20_000,
        intervalMs: 100,
        message: `retries of the cut-off host's jobs to start\n${
          show(watch.attempts())
        }\n${t.logs()}`,
      },
    );
    // Host A fenced: its processes were gone before their leases ended.
    const margins: number[] = [];
    for (const x of watch.attempts().filter((x) => x.host === a.name)) {
      const lease = cutLeases.get(x.id)!.lease!;
      if (x.goneAt !== null) margins.push(lease - x.goneAt);
      assert.equal(x.endLine, null, `job ${x.id} on host A was not stopped: it ran to its end`);
      assert.ok(
        x.goneAt !== null && x.goneAt < lease,
        `job ${x.id} on host A (pid ${x.pid}) was still running ${
          x.goneAt === null ? "after the others' retry started" : `at ${x.goneAt}`
        }, after its lease ended at ${lease} (cut at ${cutAt})\n${
          show(watch.attempts())
        }\n${wa.log()}`,
      );
      assert.deepEqual(groupMembers(x.pid), [], `processes left in job ${x.id}'s group`);
    }

    // The cut lasts longer than the lease; then host A is back.
    await delay(Math.max(0, cutAt + leaseMs + 1000 - Date.now()));
    await t.restore(a);
    const restoredAt = Date.now();
    await waitAllCompleted(t, ids.length, 20_000);

    // Host A goes on without a restart: alone now, it completes new jobs.
    for (const w of [wb!, wc!]) assert.equal((await w.stop()).code, 0, w.log());
    const after = Array.from({ length: 4 }, (_, i) => `after-${i}`);
    await enqueueMany(t.db, after.map((id) => ({ id, command: loggedJob(file, "true") })));
    await waitAllCompleted(t, ids.length + after.length, 45_000);
    assert.equal(wa.exited(), false, `host A's worker exited\n${wa.log()}`);
    for (const id of after) {
      assert.deepEqual(
        watch.attempts().filter((x) => x.id === id).map((x) => x.host),
        [a.name],
        `job ${id}`,
      );
    }
    await watch.close();

    const attempts = watch.attempts();
    assert.deepEqual(findOverlaps(attempts), [], show(attempts));
    for (const x of attempts) assert.ok(attemptEnd(x) !== Infinity, `${x.id} never ended`);
    // The others ran the retries; host A claimed nothing while it could not renew.
    for (const x of attempts.filter((x) => ids.includes(x.id) && x.attempt > 1)) {
      assert.notEqual(x.host, a.name, `job ${x.id}'s retry ran on the cut-off host`);
    }
    const duringCut = attempts.filter((x) =>
      x.host === a.name && x.start >= cutAt && x.start <= restoredAt
    );
    assert.deepEqual(duringCut, [], "host A started jobs while cut off");
    for (const id of ids) {
      const job = await read.job(t.db, id);
      assert.equal(job.state, "completed");
      assert.equal(job.runs[0]?.outcome, "interrupted", JSON.stringify(job.runs));
      assert.notEqual(
        job.runs.at(-1)?.worker_id,
        job.runs[0]?.worker_id,
        "the retry ran on another host",
      );
    }
    const final = await status(t.db);
    assert.equal(final.counts.completed, ids.length + after.length, JSON.stringify(final.counts));
    assert.equal(final.counts.processing, 0);
    console.log(
      `cut at ${cutAt}; host A's jobs gone ${Math.min(...margins)}–${
        Math.max(...margins)
      } ms before their leases ended; back after ${restoredAt - cutAt} ms`,
    );
  },
);

multihostTest(
  "a worker restarted on the same host id ends the orphans of its killed predecessor at once, long before the lease",
  async (t) => {
    const [a, b] = t.hosts as [typeof t.hosts[0], typeof t.hosts[0]];
    const file = `${t.dir}/events.log`;
    const leaseMs = 30_000;
    await configSet(t.db, "lease_timeout", leaseMs / 1000);
    await configSet(t.db, "backoff_base", 1);
    await using watch = new AttemptWatch(file);
    const wa = await t.startWorker(a);
    // Attempt 1 on host A never ends by itself (at most 60 s).
    const body = `if [ "$QUEUECTL_ATTEMPT" = 1 ] && [ "$QCTL_TEST_HOST" = ${a.name} ]; then ` +
      `sleep 60; else sleep 0.5; fi`;
    const ids = Array.from({ length: 4 }, (_, i) => `same-${i}`);
    await enqueueMany(t.db, ids.map((id) => ({ id, command: loggedJob(file, body) })));
    await waitFor(() => watch.attempts().filter((x) => x.host === a.name).length === 4, {
      timeoutMs: 30_000,
      message: `host A to run the 4 jobs\n${t.logs()}`,
    });
    await t.startWorker(b);
    // Its watchdog too, so the restarted worker finds the orphans to end.
    await killWithWatchdog(wa.pid);
    await wa.status;
    const killedAt = Date.now();
    await delay(1500); // host B's rescuer passes meanwhile: not its host, so not its orphans
    const orphans = watch.attempts().filter((x) => x.host === a.name);
    for (const o of orphans) {
      assert.ok(processRuns(o.pid), `orphan of ${o.id} was ended by another host\n${t.logs()}`);
    }

    await t.startWorker(a);
    await waitAllCompleted(t, ids.length, 20_000);
    const doneAt = Date.now();
    await watch.close();
    const attempts = watch.attempts();
    assert.deepEqual(findOverlaps(attempts), [], show(attempts));
    for (const o of attempts.filter((x) => x.host === a.name && x.attempt === 1)) {
      assert.equal(o.endLine, null, `orphan of ${o.id} ran to its end`);
      assert.deepEqual(groupMembers(o.pid), [], `processes left in ${o.id}'s group`);
    }
    assert.ok(
      doneAt - killedAt < leaseMs,
      `recovered ${doneAt - killedAt} ms after the kill: it waited for the lease`,
    );
    for (const id of ids) {
      const job = await read.job(t.db, id);
      assert.equal(job.runs[0]?.outcome, "interrupted", JSON.stringify(job.runs));
    }
  },
);
