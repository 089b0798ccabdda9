/**
 * Storage conformance cases for leases (DESIGN.md, "Fencing"): renewals
 * never shorten a lease and name the attempts the worker still holds; a
 * rescue by lease applies only while the lease has expired by the store's
 * clock; claims, renewals, stranded reads and turns left without a `now`
 * go by the store's own clock (the server's, on PostgreSQL). Every store
 * runs them through `storageConformance()` (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import type { Storage } from "../../../../lib/storage/storage.ts";
import { finishOf, LEASE, newJob, T0 } from "../_fixtures.ts";
import { claimOne } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";

function strandedAt(store: Storage, now: number): Promise<string[]> {
  return store.jobListStranded({ now, workerIds: [] }).then((jobs) => jobs.map((j) => j.id).sort());
}

const rescue = { outcome: "interrupted" as const, exitCode: null, state: "failed" as const };

/** Registers the cases for leases. */
export function leasesConformance(test: ConformanceTest): void {
  test("workerHeartbeat() never shortens a lease", async (store) => {
    await store.workerRegister({ id: "w1", pid: 1, host: "h", count: 1, queues: null, now: T0 });
    await store.jobInsertMany({ jobs: [newJob("j")], now: T0 });
    await claimOne(store, "w1", "j", T0 + 20_000);
    // A slow heartbeat, begun before the claim, arrives after it.
    await store.workerHeartbeat({ id: "w1", now: T0, leaseMs: LEASE });
    assert.deepEqual(await strandedAt(store, T0 + LEASE + 1000), [], "the claim's lease holds");
    assert.deepEqual(await strandedAt(store, T0 + 20_000 + LEASE + 1), ["j"]);
    // A longer one extends it.
    await store.workerHeartbeat({ id: "w1", now: T0 + 40_000, leaseMs: LEASE });
    assert.deepEqual(await strandedAt(store, T0 + 20_000 + LEASE + 1), []);
  });

  test("workerHeartbeat() names the attempts the worker holds, and whether it is registered", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("b"), newJob("a"), newJob("c")], now: T0 });
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 3,
      now: T0,
      leaseMs: LEASE,
    });
    assert.equal(claimed.length, 3);
    // One rescued (and retried by another worker), one finished.
    await store.runFinishMany({
      finishes: [finishOf({ id: "a", attempt: 1 }, "w1", { ...rescue, nextRunAt: T0 })],
    });
    await claimOne(store, "w2", "a", T0 + 1);
    await store.runFinishMany({ finishes: [finishOf({ id: "c", attempt: 1 }, "w1")] });
    const reply = await store.workerHeartbeat({ id: "w1", now: T0 + 2, leaseMs: LEASE });
    assert.deepEqual(reply.held, [{ id: "b", attempt: 1 }]);
    assert.equal(reply.registered, false, "w1 never registered");
    await store.workerRegister({ id: "w1", pid: 1, host: "h", count: 3, queues: null, now: T0 });
    const again = await store.workerHeartbeat({ id: "w1", now: T0 + 3, leaseMs: LEASE });
    assert.equal(again.registered, true);
    const other = await store.workerHeartbeat({ id: "w2", now: T0 + 3, leaseMs: LEASE });
    assert.deepEqual(other.held, [{ id: "a", attempt: 2 }]);
  });

  test("a rescue by lease applies only while the lease has expired", async (store, db) => {
    await using rescuer = await db.open();
    await store.jobInsertMany({ jobs: [newJob("j", { max_retries: 3 })], now: T0 });
    const job = await claimOne(store, "w1", "j");
    const rescueOf = (at: number) =>
      finishOf(job, "w1", {
        ...rescue,
        nextRunAt: at + 1000,
        finishedAt: at,
        ifLeaseExpired: true,
      });
    // Seen expired, but renewed before the write: the write does not apply.
    await store.workerHeartbeat({ id: "w1", now: T0 + 20_000, leaseMs: LEASE });
    const at = T0 + LEASE + 1;
    assert.deepEqual(
      await rescuer.runFinishMany({ finishes: [rescueOf(at)], now: at }),
      [],
      "the renewed lease holds",
    );
    assert.equal((await store.jobGet({ id: "j" }))?.state, "processing");
    const later = T0 + 20_000 + LEASE + 1;
    assert.deepEqual(await rescuer.runFinishMany({ finishes: [rescueOf(later)], now: later }), [
      "j",
    ]);
    assert.equal((await store.jobGet({ id: "j" }))?.state, "failed");
    // The owner's late result does not apply, nor does its renewal hold the job.
    assert.deepEqual(await store.runFinishMany({ finishes: [finishOf(job, "w1")] }), []);
    const reply = await store.workerHeartbeat({ id: "w1", now: later + 1, leaseMs: LEASE });
    assert.deepEqual(reply.held, []);
  });

  test("jobListStranded() with leases: false finds only the jobs of workers gone", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("a"), newJob("b")], now: T0 });
    await claimOne(store, "w1", "a");
    await claimOne(store, "w2", "b");
    const found = await store.jobListStranded({
      now: T0 + 10 * LEASE,
      workerIds: ["w2"],
      leases: false,
    });
    assert.deepEqual(found.map((j) => j.id), ["b"]);
  });

  test("claims, renewals, stranded reads and rescues without a now go by the store's clock", async (store) => {
    const now = store.now();
    await store.jobInsertMany({
      jobs: [newJob("due"), newJob("later", { run_at: now + 3_600_000 })],
      now: T0,
    });
    const claimed = await store.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 2,
      leaseMs: LEASE,
    });
    assert.deepEqual(claimed.map((j) => j.id), ["due"], "due by the store's clock, not T0's");
    const ids = async (at?: number) =>
      (await store.jobListStranded({ now: at, workerIds: [] })).map((j) => j.id);
    assert.deepEqual(await ids(), [], "the lease counts from the store's now");
    assert.deepEqual(await ids(now + LEASE + 5000), ["due"]);
    assert.deepEqual(await ids(now + LEASE - 5000), []);
    // A renewal without a now: from the store's now too (never shorter).
    await store.workerHeartbeat({ id: "w1", leaseMs: 2 * LEASE });
    assert.deepEqual(await ids(now + LEASE + 5000), []);
    // A rescue by lease without a now: judged by the store's clock, so refused.
    const job = claimed[0]!;
    assert.deepEqual(
      await store.runFinishMany({
        finishes: [finishOf(job, "w1", { ...rescue, nextRunAt: now, ifLeaseExpired: true })],
      }),
      [],
    );
  });

  test("turnTake() without a now goes by the store's clock", async (store, db) => {
    await using other = await db.open();
    // Taken long ago by a fixed clock: over by the store's.
    assert.equal(await store.turnTake({ holder: "a", now: T0, ttlMs: 6000 }), true);
    assert.equal(await other.turnTake({ holder: "b", ttlMs: 6000 }), true);
    assert.equal(await store.turnTake({ holder: "a", ttlMs: 6000 }), false, "b's turn lasts");
    assert.equal(await other.turnTake({ holder: "b", ttlMs: 6000 }), true, "b keeps it");
  });
}
