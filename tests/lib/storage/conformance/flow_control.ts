/**
 * Conformance cases for flow control (README "Flow control"): rate limits,
 * group concurrency, expiry, `after_any`, `unique_for` and per-job backoff
 * fields, on every store.
 */
import assert from "node:assert/strict";
import { NotFoundError } from "../../../../lib/errors.ts";
import type { ClaimedJob, Storage } from "../../../../lib/storage/storage.ts";
import { death, finishOf, LEASE, newJob, T0 } from "../_fixtures.ts";
import { assertRejects, conflict } from "./_assert.ts";
import { addJobIn, claimOne, stateOf } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";

function claim(store: Storage, now: number, limit = 10, queues: string[] | null = null) {
  return store.jobClaim({ workerId: "w1", queues, limit, now, leaseMs: LEASE });
}

const ids = (jobs: ClaimedJob[]) => jobs.map((j) => j.id).sort();

/** Registers the cases for flow control. */
export function flowControlConformance(test: ConformanceTest): void {
  test("jobClaim() starts at most N jobs of a rate-limited queue in any window", async (store) => {
    await store.jobInsertMany({
      jobs: [
        ...Array.from({ length: 7 }, (_, i) => newJob(`r${i}`, { queue: "api" })),
        newJob("free", { queue: "other" }),
      ],
      now: T0,
    });
    await store.queueSet({ name: "api", rate: { limit: 3, periodMs: 1000 } });
    const first = await claim(store, T0);
    assert.deepEqual(ids(first), ["free", "r0", "r1", "r2"], "3 of the limited queue, others free");
    assert.deepEqual(await claim(store, T0 + 999), [], "the window is full until T0 + 1 s");
    assert.equal(await store.jobNextDueAt({ queues: null, now: T0 + 500 }), T0 + 1000);
    assert.equal(await store.jobNextDueAt({ queues: ["other"], now: T0 + 500 }), null);
    const second = await claim(store, T0 + 1000, 2);
    assert.deepEqual(ids(second), ["r3", "r4"]);
    const third = await claim(store, T0 + 1500);
    assert.deepEqual(ids(third), ["r5"], "one start left in (T0 + 0.5 s, T0 + 1.5 s]");
    assert.equal(await store.jobNextDueAt({ queues: null, now: T0 + 1500 }), T0 + 2000);
    const [api] = (await store.queueList()).filter((q) => q.name === "api");
    // queueList() reads the window at the store's own clock, long after T0.
    assert.deepEqual(api?.rate, { limit: 3, period_ms: 1000, used: 0 });
    assert.deepEqual(await store.queueRateList({ now: T0 + 1600 }), [
      { name: "api", limit: 3, period_ms: 1000, used: 3 },
    ]);
    // Jobs over the limit stay pending and use no attempt.
    assert.equal(await stateOf(store, "r6"), "pending");
    assert.equal((await store.jobGet({ id: "r6" }))?.attempts, 0);
    await store.queueSet({ name: "api", rate: null });
    assert.deepEqual(ids(await claim(store, T0 + 1600)), ["r6"], "off: no limit");
  });

  test("jobClaim() on three connections never exceeds a rate limit", async (store, db) => {
    await using second = await db.open();
    await using third = await db.open();
    await store.jobInsertMany({
      jobs: Array.from({ length: 30 }, (_, i) => newJob(`j${i}`, { queue: "api" })),
      now: T0,
    });
    await store.queueSet({ name: "api", rate: { limit: 5, periodMs: 1000 } });
    const rounds = await Promise.all(
      [store, second, third].flatMap((s, k) =>
        [0, 1, 2].map((i) =>
          s.jobClaim({
            workerId: `w${k}`,
            queues: null,
            limit: 4,
            now: T0 + 10 * i,
            leaseMs: LEASE,
          })
        )
      ),
    );
    assert.equal(rounds.flat().length, 5, "5 starts in the window across connections");
  });

  test("jobClaim() skips a group at its limit and takes the other groups' jobs", async (store) => {
    await store.jobInsertMany({
      jobs: [
        ...Array.from(
          { length: 5 },
          (_, i) => newJob(`a${i}`, { queue: "g", group: "a", priority: 5 }),
        ),
        newJob("b0", { queue: "g", group: "b" }),
        newJob("b1", { queue: "g", group: "b" }),
        newJob("c0", { queue: "g", group: "c" }),
        newJob("none", { queue: "g" }),
      ],
      now: T0,
    });
    await store.queueSet({ name: "g", groupConcurrency: 1 });
    const first = await claim(store, T0);
    assert.deepEqual(ids(first), ["a0", "b0", "c0", "none"], "one per group, ungrouped free");
    assert.deepEqual(await claim(store, T0), [], "every group at its limit");
    const a0 = first.find((j) => j.id === "a0")!;
    await store.runFinishMany({ finishes: [finishOf(a0, "w1")] });
    assert.deepEqual(ids(await claim(store, T0 + 1)), ["a1"], "a's next after a0 ended");
    await store.queueSet({ name: "g", groupConcurrency: 2 });
    assert.deepEqual(ids(await claim(store, T0 + 2)), ["a2", "b1"]);
    const [g] = (await store.queueList()).filter((q) => q.name === "g");
    assert.equal(g?.group_concurrency, 2);
    assert.equal((await store.jobGet({ id: "a3" }))?.group, "a");
  });

  test("jobClaim() never gives one group more than its limit within one claim", async (store) => {
    await store.jobInsertMany({
      jobs: [
        ...Array.from(
          { length: 6 },
          (_, i) => newJob(`a${i}`, { queue: "g", group: "a", priority: 5 }),
        ),
        ...Array.from(
          { length: 3 },
          (_, i) => newJob(`b${i}`, { queue: "g", group: "b", priority: 3 }),
        ),
        newJob("c0", { queue: "g", group: "c", priority: 1 }),
        newJob("none", { queue: "g" }),
      ],
      now: T0,
    });
    await store.queueSet({ name: "g", groupConcurrency: 2 });
    const first = await claim(store, T0, 5);
    assert.deepEqual(ids(first), ["a0", "a1", "b0", "b1", "c0"], "two of a and b, best first");
    assert.deepEqual(ids(await claim(store, T0, 5)), ["none"], "a and b full, c has no more");
    const a0 = first.find((j) => j.id === "a0")!;
    await store.runFinishMany({ finishes: [finishOf(a0, "w1")] });
    assert.deepEqual(ids(await claim(store, T0 + 1, 5)), ["a2"], "one place freed in a");
  });

  test("jobClaim() past a full group's deep backlog still counts each group", async (store) => {
    // The full group's waiting jobs sort ahead of everything else, more of
    // them than a claim reads in order before it walks the groups instead.
    await store.jobInsertMany({
      jobs: [
        ...Array.from(
          { length: 1000 },
          (_, i) => newJob(`deep${i}`, { queue: "g", group: "deep", priority: 9 }),
        ),
        ...Array.from({ length: 3 }, (_, i) => newJob(`x${i}`, { queue: "g", group: "x" })),
        newJob("y0", { queue: "g", group: "y" }),
        newJob("none", { queue: "g" }),
      ],
      now: T0,
    });
    await store.queueSet({ name: "g", groupConcurrency: 2 });
    assert.deepEqual(ids(await claim(store, T0, 2)), ["deep0", "deep1"]);
    assert.deepEqual(ids(await claim(store, T0, 5)), ["none", "x0", "x1", "y0"]);
    assert.deepEqual(await claim(store, T0, 5), [], "every group at its limit");
  });

  test("jobClaim() with a group limit walks 300 groups and a deep group quickly", async (store) => {
    const jobs = [
      ...Array.from(
        { length: 2000 },
        (_, i) => newJob(`deep${i}`, { queue: "g", group: "deep", priority: 9 }),
      ),
      ...Array.from({ length: 300 }, (_, i) => newJob(`g${i}`, { queue: "g", group: `grp${i}` })),
    ];
    await store.jobInsertMany({ jobs, now: T0 });
    await store.queueSet({ name: "g", groupConcurrency: 1 });
    const first = await claim(store, T0, 1);
    assert.deepEqual(ids(first), ["deep0"]);
    const started = performance.now();
    let taken = 0;
    for (let i = 0; i < 20; i++) taken += (await claim(store, T0, 5)).length;
    assert.equal(taken, 100, "the deep group at its limit holds up none of the others");
    assert.ok(performance.now() - started < 5000, "20 claims in well under 5 s");
  });

  test("jobClaim() and jobExpire() cancel a job not started by its expiry", async (store) => {
    await store.jobInsertMany({
      jobs: [
        newJob("soon", { expires_at: T0 + 1000 }),
        newJob("later", { expires_at: T0 + 60_000 }),
        newJob("dep", { after_any: ["soon"] }),
      ],
      now: T0,
    });
    assert.equal(await store.jobNextExpiryAt(), T0 + 1000);
    assert.deepEqual(await store.jobExpire({ now: T0 + 999 }), []);
    const claimed = await claim(store, T0 + 2000, 1);
    assert.deepEqual(ids(claimed), ["later"], "the expired job is never started");
    const soon = await store.jobGet({ id: "soon" });
    assert.equal(soon?.state, "cancelled");
    assert.equal(soon?.last_error, "expired");
    assert.equal(await stateOf(store, "dep"), "pending", "after_any: released by the expiry");
    // A job that started is never expired, even past its expiry.
    await store.jobInsertMany({ jobs: [newJob("x", { expires_at: T0 + 3000 })], now: T0 });
    assert.deepEqual(await store.jobExpire({ now: T0 + 3000 }), ["x"]);
    assert.equal(await store.jobNextExpiryAt(), null);
  });

  test("jobExpire() leaves a started job alone", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("s", { expires_at: T0 + 1000 })], now: T0 });
    await claimOne(store, "w1", "s");
    assert.deepEqual(await store.jobExpire({ now: T0 + 5000 }), []);
    assert.equal(await stateOf(store, "s"), "processing");
  });

  test("jobInsertMany() releases after_any dependents whatever the outcome", async (store) => {
    await addJobIn(store, "ok", "pending");
    await store.jobInsertMany({
      jobs: [
        newJob("bad"),
        newJob("clean", { after_any: ["ok", "bad"] }),
        newJob("strict", { after: ["bad"] }),
      ],
      now: T0,
    });
    assert.equal(await stateOf(store, "clean"), "blocked");
    const claimed = await claim(store, T0, 2);
    const ok = claimed.find((j) => j.id === "ok")!;
    const bad = claimed.find((j) => j.id === "bad")!;
    await store.runFinishMany({ finishes: [finishOf(ok, "w1")] });
    assert.equal(await stateOf(store, "clean"), "blocked", "one dependency still open");
    await store.runFinishMany({ finishes: [finishOf(bad, "w1", death())] });
    assert.equal(await stateOf(store, "clean"), "pending", "released by a dead dependency");
    assert.equal(await stateOf(store, "strict"), "cancelled", "after still cascades");
    const shown = await store.jobGetWithRuns({ id: "clean" });
    assert.deepEqual(shown?.after_any, ["ok", "bad"]);
    assert.deepEqual(shown?.dependencies.map((d) => d.state), ["completed", "dead"]);
  });

  test("jobInsertMany() releases an after_any dependent of a job cancelled by a cascade", async (store) => {
    await store.jobInsertMany({
      jobs: [
        newJob("root"),
        newJob("mid", { after: ["root"] }),
        newJob("tail", { after_any: ["mid"] }),
      ],
      now: T0,
    });
    const [root] = await claim(store, T0, 1);
    await store.runFinishMany({ finishes: [finishOf(root!, "w1", death())] });
    assert.equal(await stateOf(store, "mid"), "cancelled");
    assert.equal(await stateOf(store, "tail"), "pending");
  });

  test("jobInsertMany() refuses after_any naming an unknown job, accepts a dead one as met", async (store) => {
    await assertRejects(
      () => store.jobInsertMany({ jobs: [newJob("n", { after_any: ["nope"] })], now: T0 }),
      (error) =>
        error instanceof NotFoundError && /dependency "nope" not found/.test(error.message),
    );
    assert.equal(await store.jobGet({ id: "n" }), null, "nothing added");
    await store.jobInsertMany({ jobs: [newJob("c")], now: T0 });
    await store.jobCancel({ ids: ["c"], now: T0 });
    await store.jobInsertMany({ jobs: [newJob("after-c", { after_any: ["c"] })], now: T0 });
    assert.equal(await stateOf(store, "after-c"), "pending");
  });

  test("jobInsertMany() keeps a key taken for unique_for after its job ended", async (store) => {
    await store.jobInsertMany({
      jobs: [newJob("u1", { key: "k", unique_for: 60 })],
      now: T0,
    });
    const [u1] = await claim(store, T0, 1);
    await store.runFinishMany({ finishes: [finishOf(u1!, "w1", { finishedAt: T0 + 10 })] });
    const kept = await store.jobInsertMany({
      jobs: [newJob("u2", { key: "k" })],
      now: T0 + 30_000,
    });
    assert.deepEqual(kept.kept, [{ id: "u2", key: "k", existingId: "u1" }]);
    await assertRejects(
      () =>
        store.jobInsertMany({
          jobs: [newJob("u3", { key: "k" })],
          now: T0 + 30_000,
          onConflict: "fail",
        }),
      conflict(/unique_for/),
    );
    const later = await store.jobInsertMany({
      jobs: [newJob("u4", { key: "k" })],
      now: T0 + 60_001,
    });
    assert.equal(later.inserted, 1, "free once the window has passed");
    assert.equal((await store.jobGet({ id: "u1" }))?.unique_for, 60);
  });

  test("jobPrune() keeps a final job whose unique_for window is still open", async (store) => {
    await store.jobInsertMany({
      jobs: [newJob("u1", { key: "k", unique_for: 60 }), newJob("plain")],
      now: T0,
    });
    for (const job of await claim(store, T0, 2)) {
      await store.runFinishMany({ finishes: [finishOf(job, "w1", { finishedAt: T0 + 10 })] });
    }
    const before = { completed: T0 + 1000 };
    const now = T0 + 30_000;
    assert.deepEqual(
      await store.jobPrune({ before, now, dryRun: true }),
      { completed: 1, cancelled: 0, dead: 0 },
      "the dry run counts only the job without a window",
    );
    assert.deepEqual(await store.jobPrune({ before, now }), {
      completed: 1,
      cancelled: 0,
      dead: 0,
    });
    assert.equal(await store.jobGet({ id: "plain" }), null);
    assert.equal(await stateOf(store, "u1"), "completed", "kept while its key is taken");
    const kept = await store.jobInsertMany({ jobs: [newJob("u2", { key: "k" })], now });
    assert.deepEqual(kept.kept, [{ id: "u2", key: "k", existingId: "u1" }]);
    assert.deepEqual(await store.jobPrune({ before, now: T0 + 60_000 }), {
      completed: 1,
      cancelled: 0,
      dead: 0,
    }, "pruned once the window has passed");
    assert.equal(await store.jobGet({ id: "u1" }), null);
  });

  test("jobInsertMany() stores per-job backoff fields", async (store) => {
    await store.jobInsertMany({
      jobs: [newJob("b", { backoff_base: 3, backoff_max: 20 })],
      now: T0,
    });
    const job = await store.jobGet({ id: "b" });
    assert.deepEqual([job?.backoff_base, job?.backoff_max], [3, 20]);
  });
}
