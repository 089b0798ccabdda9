/**
 * Many hosts (DESIGN.md "PostgreSQL"): leases, due times and rescue go by the database
 * server's clock, so a host whose clock runs 60 s ahead
 * (`QUEUECTL_TEST_CLOCK_SKEW_MS`, a test-only shift of the clock the store
 * reads) never rescues a live job nor runs a job before it is due.
 */
import assert from "node:assert/strict";
import { type Host, multihostTest } from "../_netns.ts";
import { waitFor } from "../_helpers.ts";
import { configSet, enqueue, read, workerList } from "../workers/_worker_process.ts";
import { AttemptWatch, loggedJob } from "./_events.ts";

const SKEW_MS = 60_000;

multihostTest(
  "a host whose clock runs 60 s ahead never rescues a live job nor runs one early",
  async (t) => {
    const [a, b] = t.hosts as [Host, Host];
    const file = `${t.dir}/events.log`;
    const leaseMs = 10_000;
    await configSet(t.db, "lease_timeout", leaseMs / 1000);
    await using watch = new AttemptWatch(file);
    const wa = await t.startWorker(a);
    // It runs longer than the lease, renewed by host A all along.
    await enqueue(t.db, { id: "long", command: loggedJob(file, "sleep 12") });
    await waitFor(() => watch.attempts().some((x) => x.id === "long"), {
      timeoutMs: 20_000,
      message: `host A to start the job\n${wa.log()}`,
    });
    // Host B, 60 s ahead, rescues at start-up and at every heartbeat (2 s) from now on.
    const wb = await t.startWorker(b, { env: { QUEUECTL_TEST_CLOCK_SKEW_MS: String(SKEW_MS) } });
    const bStartedAt = Date.now();
    // Due in 20 s by the server's clock: already due by host B's.
    await enqueue(t.db, { id: "later", command: loggedJob(file, "true"), delay: "20s" });

    const job = await waitFor(async () => {
      const job = await read.job(t.db, "long");
      return job.state !== "processing" && job.state !== "pending" ? job : null;
    }, { timeoutMs: 30_000, intervalMs: 200, message: `the job to end\n${t.logs()}` });
    assert.equal(job.state, "completed", `${JSON.stringify(job.runs)}\n${t.logs()}`);
    assert.equal(job.runs.length, 1, JSON.stringify(job.runs));
    assert.equal(job.runs[0]!.outcome, "succeeded");
    assert.ok(
      Date.now() - bStartedAt > 6000,
      "host B ran at least three rescuer passes beside the live job",
    );
    const runs = watch.attempts().filter((x) => x.id === "long");
    assert.deepEqual(runs.map((x) => [x.host, x.attempt]), [[a.name, 1]]);

    const later = await read.job(t.db, "later");
    assert.equal(later.state, "pending", `job "later" ran early: ${JSON.stringify(later)}`);
    assert.equal(watch.attempts().filter((x) => x.id === "later").length, 0);
    assert.equal(wb.exited(), false, wb.log());

    // Host B really ran 60 s ahead (else the above proves nothing): `worker list` shows
    // its clock offset, measured at its heartbeats.
    const workers = await workerList(t.db);
    const hostB = workers.find((w) => w.host === b.name);
    assert.ok(hostB, `host B is not registered: ${JSON.stringify(workers)}`);
    assert.ok(
      Math.abs(hostB.clock_offset_ms - SKEW_MS) < 2000,
      `host B's clock offset is ${hostB.clock_offset_ms} ms, not about +${SKEW_MS} ms: ` +
        `QUEUECTL_TEST_CLOCK_SKEW_MS did not shift its clock\n${wb.log()}`,
    );
    assert.ok(
      Math.abs(Date.parse(hostB.heartbeat_at) - Date.now()) < 5000,
      `host B stamps its heartbeat by its own clock: ${hostB.heartbeat_at}`,
    );
  },
  { hosts: 2 },
);
