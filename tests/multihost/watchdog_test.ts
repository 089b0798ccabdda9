/**
 * The watchdog and the host id guard on many hosts (DESIGN.md, "Watchdog"):
 * a supervisor killed with SIGKILL has its jobs ended within 2 s on its own
 * host, with no other queuectl process there; one frozen with SIGSTOP has
 * them ended before its lease expires; a second machine given a live
 * host's id refuses to start. Jobs log their starts and ends; the checks
 * are that no two attempts of a job overlap and that nothing is lost.
 */
import assert from "node:assert/strict";
import { multihostTest } from "../_netns.ts";
import { waitFor } from "../_helpers.ts";
import { configSet, enqueueMany, read, status, watchdogsOf } from "../workers/_worker_process.ts";
import { AttemptWatch, findOverlaps, groupMembers, loggedJob, processRuns } from "./_events.ts";
import { leases, show, waitAllCompleted } from "./_jobs.ts";

/**
 * Attempt 1 on `host` ignores SIGTERM (the shell and its `sleep`) and runs
 * 30 s; every other attempt takes half a second.
 */
function stubbornOn(host: string): string {
  return `if [ "$QUEUECTL_ATTEMPT" = 1 ] && [ "$QCTL_TEST_HOST" = ${host} ]; then ` +
    `trap '' TERM; sleep 30; else sleep 0.5; fi`;
}

multihostTest(
  "a supervisor killed with SIGKILL: its watchdog ends its SIGTERM-trapping jobs within 2 s, and no retry overlaps them",
  async (t) => {
    const [a, b, c] = t.hosts as [typeof t.hosts[0], typeof t.hosts[0], typeof t.hosts[0]];
    const file = `${t.dir}/events.log`;
    await configSet(t.db, "lease_timeout", 6);
    await configSet(t.db, "backoff_base", 1);
    await using watch = new AttemptWatch(file, 20);
    const wa = await t.startWorker(a);
    const ids = Array.from({ length: 4 }, (_, i) => `killed-${i}`);
    await enqueueMany(
      t.db,
      ids.map((id) => ({ id, command: loggedJob(file, stubbornOn(a.name)) })),
    );
    await waitFor(() => watch.attempts().filter((x) => x.host === a.name).length === 4, {
      timeoutMs: 30_000,
      message: `host A to run the 4 jobs\n${t.logs()}`,
    });
    await Promise.all([b, c].map((host) => t.startWorker(host)));
    assert.equal(watchdogsOf(wa.pid).length, 1, "host A's worker has a watchdog");

    wa.kill("SIGKILL");
    const killedAt = Date.now();
    // Nothing of queuectl runs on host A now but the watchdog.
    await waitFor(
      () => watch.attempts().filter((x) => x.host === a.name).every((x) => x.goneAt !== null),
      {
        timeoutMs: 5000,
        intervalMs: 20,
        message: `host A's jobs to end\n${show(watch.attempts())}\n${t.logs()}`,
      },
    );
    const ended: number[] = [];
    for (const x of watch.attempts().filter((x) => x.host === a.name)) {
      ended.push(x.goneAt! - killedAt);
      assert.equal(x.endLine, null, `job ${x.id} on host A ran to its end`);
      assert.ok(
        x.goneAt! - killedAt < 2000,
        `job ${x.id} on host A (pid ${x.pid}) ran ${x.goneAt! - killedAt} ms after the SIGKILL`,
      );
      assert.deepEqual(groupMembers(x.pid), [], `processes left in job ${x.id}'s group`);
    }
    await waitFor(() => watchdogsOf(wa.pid).length === 0, {
      timeoutMs: 2000,
      message: "host A's watchdog to exit",
    });

    // The others rescue them once the leases end, and run the retries.
    await waitAllCompleted(t, ids.length, 30_000);
    await watch.close();
    const attempts = watch.attempts();
    assert.deepEqual(findOverlaps(attempts), [], show(attempts));
    for (const id of ids) {
      const job = await read.job(t.db, id);
      assert.equal(job.runs[0]?.outcome, "interrupted", JSON.stringify(job.runs));
      assert.ok(
        attempts.some((x) => x.id === id && x.attempt > 1 && x.host !== a.name),
        `job ${id} was retried elsewhere`,
      );
    }
    const final = await status(t.db);
    assert.equal(final.counts.processing, 0);
    console.log(
      `host A's jobs ended ${Math.min(...ended)}–${Math.max(...ended)} ms after its SIGKILL`,
    );
  },
);

multihostTest(
  "a supervisor frozen with SIGSTOP for two leases: its jobs end before its lease does, no retry overlaps them, and after SIGCONT it writes no result for what it lost",
  async (t) => {
    const [a, b, c] = t.hosts as [typeof t.hosts[0], typeof t.hosts[0], typeof t.hosts[0]];
    const file = `${t.dir}/events.log`;
    const leaseMs = 6000;
    await configSet(t.db, "lease_timeout", leaseMs / 1000);
    await configSet(t.db, "backoff_base", 1);
    await using watch = new AttemptWatch(file, 20);
    const wa = await t.startWorker(a);
    const ids = Array.from({ length: 4 }, (_, i) => `frozen-${i}`);
    await enqueueMany(
      t.db,
      ids.map((id) => ({ id, command: loggedJob(file, stubbornOn(a.name)) })),
    );
    await waitFor(() => watch.attempts().filter((x) => x.host === a.name).length === 4, {
      timeoutMs: 30_000,
      message: `host A to run the 4 jobs\n${t.logs()}`,
    });
    const [wb, wc] = await Promise.all([b, c].map((host) => t.startWorker(host)));

    wa.kill("SIGSTOP");
    const stoppedAt = Date.now();
    // Frozen: nothing renews these leases any more.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const frozenLeases = await leases(t, ids);
    for (const [id, row] of frozenLeases) {
      assert.equal(row.state, "processing", `job ${id} when frozen: ${JSON.stringify(row)}`);
    }
    await waitFor(
      () => ids.every((id) => watch.attempts().some((x) => x.id === id && x.attempt > 1)),
      {
        timeoutMs: leaseMs + 20_000,
        intervalMs: 100,
        message: `retries of the frozen host's jobs to start\n${
          show(watch.attempts())
        }\n${t.logs()}`,
      },
    );
    const margins: number[] = [];
    for (const x of watch.attempts().filter((x) => x.host === a.name)) {
      const lease = frozenLeases.get(x.id)!.lease!;
      assert.equal(x.endLine, null, `job ${x.id} on host A ran to its end`);
      assert.ok(
        x.goneAt !== null && x.goneAt < lease,
        `job ${x.id} on host A (pid ${x.pid}) still ran ${
          x.goneAt === null ? "when its retry started" : `at ${x.goneAt}`
        }, after its lease ended at ${lease} (frozen at ${stoppedAt})\n${show(watch.attempts())}`,
      );
      margins.push(lease - x.goneAt!);
      assert.deepEqual(groupMembers(x.pid), [], `processes left in job ${x.id}'s group`);
    }

    // Two leases frozen, then it goes on.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, stoppedAt + 2 * leaseMs - Date.now()))
    );
    wa.kill("SIGCONT");
    await waitAllCompleted(t, ids.length, 30_000);
    // The runs it lost keep the rescuer's record: nothing of host A's was written over them.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    for (const id of ids) {
      const job = await read.job(t.db, id);
      assert.equal(job.state, "completed");
      assert.equal(job.runs[0]?.outcome, "interrupted", JSON.stringify(job.runs));
      assert.match(job.runs[0]?.error ?? "", /lease of worker \S+ expired/);
      assert.equal(job.runs.length, job.attempts, JSON.stringify(job.runs));
    }
    // Host A goes on: alone now, it completes new jobs.
    for (const w of [wb!, wc!]) assert.equal((await w.stop()).code, 0, w.log());
    const after = Array.from({ length: 2 }, (_, i) => `after-${i}`);
    await enqueueMany(t.db, after.map((id) => ({ id, command: loggedJob(file, "true") })));
    await waitAllCompleted(t, ids.length + after.length, 30_000);
    assert.equal(wa.exited(), false, `host A's worker exited\n${wa.log()}`);
    await watch.close();
    const attempts = watch.attempts();
    assert.deepEqual(findOverlaps(attempts), [], show(attempts));
    assert.equal((await status(t.db)).counts.processing, 0);
    console.log(
      `frozen host's jobs gone ${Math.min(...margins)}–${
        Math.max(...margins)
      } ms before their leases ended`,
    );
  },
);

multihostTest(
  "a second machine started under a live host's id refuses to start, naming the id, and the first's jobs are untouched",
  async (t) => {
    const [a, b] = t.hosts as [typeof t.hosts[0], typeof t.hosts[0]];
    const file = `${t.dir}/events.log`;
    await configSet(t.db, "lease_timeout", 6);
    await using watch = new AttemptWatch(file);
    const wa = await t.startWorker(a);
    const ids = Array.from({ length: 4 }, (_, i) => `twin-${i}`);
    await enqueueMany(t.db, ids.map((id) => ({ id, command: loggedJob(file, "sleep 8") })));
    await waitFor(() => watch.attempts().filter((x) => x.host === a.name).length === 4, {
      timeoutMs: 30_000,
      message: `host A to run the 4 jobs\n${t.logs()}`,
    });
    const before = await leases(t, ids);

    // Host B, with a pid space of its own (another machine), under host A's id.
    const twin = await t.startWorker(b, {
      env: { QUEUECTL_HOST_ID: a.name },
      pidNamespace: true,
      waitStarted: false,
    });
    const exit = await Promise.race([
      twin.status,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 30_000)),
    ]);
    assert.ok(exit !== null, `the twin did not exit\n${twin.log()}`);
    assert.equal(exit.code, 1, twin.log());
    const lines = twin.stderr().trim().split("\n");
    assert.equal(lines.length, 1, twin.stderr());
    assert.match(lines[0]!, new RegExp(`^error: .*host id "${a.name}"`, "i"));

    // Host A's jobs run on, untouched, and end by themselves.
    for (const x of watch.attempts()) assert.ok(processRuns(x.pid), `job ${x.id} was ended`);
    const now = await leases(t, ids);
    for (const id of ids) {
      assert.equal(now.get(id)?.state, "processing", `job ${id}: ${JSON.stringify(now.get(id))}`);
      assert.equal(now.get(id)?.worker_id, before.get(id)?.worker_id);
    }
    await waitAllCompleted(t, ids.length, 30_000);
    await watch.close();
    const attempts = watch.attempts();
    assert.deepEqual(findOverlaps(attempts), [], show(attempts));
    assert.deepEqual(
      attempts.map((x) => [x.id, x.attempt, x.host]).sort(),
      ids.map((id) => [id, 1, a.name]),
      "each job ran once, on host A",
    );
    assert.equal((await wa.stop()).code, 0, wa.log());
  },
);
