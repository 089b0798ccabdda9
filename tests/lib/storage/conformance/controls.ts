/**
 * Storage conformance cases for the operator controls (README "Operating a
 * queue"): tags, hold and release, edit, delete by id, and the actions by
 * filter (`jobBulkCount`, `jobBulkStep`). Every store runs them through
 * `storageConformance()` (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import { NotFoundError } from "../../../../lib/errors.ts";
import { insertedJobs } from "../../../../lib/job.ts";
import type { BulkAction } from "../../../../lib/state.ts";
import type { JobFilter, Storage } from "../../../../lib/storage/storage.ts";
import { LEASE, newJob, T0 } from "../_fixtures.ts";
import { assertCounts, assertRejects, conflict } from "./_assert.ts";
import { addJobIn, allIds, endJob, flowJob, stateOf } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";

/** Runs an action by filter to its end, `limit` jobs a step; the sums and the number of steps. */
async function bulk(
  store: Storage,
  action: BulkAction,
  filter: JobFilter,
  limit = 2,
  now = T0 + 10_000,
): Promise<{ changed: number; requested: number; skipped: number; steps: number }> {
  const total = { changed: 0, requested: 0, skipped: 0, steps: 0 };
  let cursor: string | null = null;
  do {
    const step = await store.jobBulkStep({ action, filter, now, limit, cursor });
    total.changed += step.changed;
    total.requested += step.requested;
    total.skipped += step.skipped;
    total.steps++;
    cursor = step.cursor;
  } while (cursor !== null);
  return total;
}

/** Registers the cases for the operator controls. */
export function controlsConformance(test: ConformanceTest): void {
  // --- tags ---

  test("jobInsertMany() stores tags; jobList() with tags lists jobs carrying every one", async (store) => {
    const jobs = [
      newJob("a", { tags: ["batch7", "nightly"] }),
      newJob("b", { tags: ["batch7"] }),
      newJob("c"),
      newJob("d", { tags: ["nightly"], key: "k-d" }), // the flow insert path too
    ];
    const result = await store.jobInsertMany({ jobs, now: T0 });
    assert.deepEqual((await store.jobGet({ id: "a" }))?.tags, ["batch7", "nightly"]);
    assert.deepEqual((await store.jobGet({ id: "c" }))?.tags, null);
    assert.deepEqual((await store.jobGet({ id: "d" }))?.tags, ["nightly"]);
    assert.deepEqual(insertedJobs(jobs, T0, result)[0], await store.jobGet({ id: "a" }));
    const ids = async (tags: string[]) =>
      (await store.jobList({ tags, limit: 50 })).jobs.map((j) => j.id).sort();
    assert.deepEqual(await ids(["batch7"]), ["a", "b"]);
    assert.deepEqual(await ids(["nightly"]), ["a", "d"]);
    assert.deepEqual(await ids(["batch7", "nightly"]), ["a"]);
    assert.deepEqual(await ids(["nope"]), []);
  });

  // --- hold and release ---

  test("jobInsertMany() with hold inserts held jobs that are never claimed", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("h", { hold: true }), newJob("p")], now: T0 });
    assert.equal(await stateOf(store, "h"), "held");
    const claimed = await store.jobClaim({
      workerId: "w",
      queues: null,
      limit: 10,
      now: T0 + 60_000,
      leaseMs: LEASE,
    });
    assert.deepEqual(claimed.map((j) => j.id), ["p"]);
    await assertCounts(store, { held: 1, processing: 1 });
  });

  test("jobHold() holds waiting jobs and jobRelease() puts each back where it was", async (store) => {
    await addJobIn(store, "f", "failed"); // due at T0 + 1 h
    await store.jobInsertMany({ jobs: [newJob("p", { run_at: T0 + 5000 })], now: T0 });
    const held = await store.jobHold({ ids: ["p", "f"], now: T0 + 1000 });
    assert.deepEqual(held.map((j) => [j.id, j.state]), [["p", "held"], ["f", "held"]]);
    await assertCounts(store, { held: 2 });
    const none = await store.jobClaim({
      workerId: "w",
      queues: null,
      limit: 10,
      now: T0 + 7_200_000,
      leaseMs: LEASE,
    });
    assert.deepEqual(none, [], "held jobs are never claimed");
    // Released after p's due time passed: p is due now; f keeps its later retry time.
    const released = await store.jobRelease({ ids: ["p", "f"], now: T0 + 10_000 });
    assert.deepEqual(released.map((j) => [j.id, j.state, j.next_run_at]), [
      ["p", "pending", new Date(T0 + 10_000).toISOString()],
      ["f", "failed", new Date(T0 + 3_600_000).toISOString()],
    ]);
    await assertCounts(store, { pending: 1, failed: 1 });
  });

  test("jobHold() refuses a job that is not waiting, all or none", async (store) => {
    await addJobIn(store, "done", "completed");
    await store.jobInsertMany({ jobs: [newJob("p")], now: T0 });
    await assertRejects(
      () => store.jobHold({ ids: ["p", "done"], now: T0 }),
      conflict(/^Cannot hold job "done": job is completed$/),
    );
    assert.equal(await stateOf(store, "p"), "pending", "nothing changed");
    await assertRejects(() => store.jobHold({ ids: ["nope"], now: T0 }), NotFoundError);
  });

  test("jobRelease() refuses a job that is not held", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("p")], now: T0 });
    await assertRejects(
      () => store.jobRelease({ ids: ["p"], now: T0 }),
      conflict(/^Cannot release job "p": job is pending$/),
    );
  });

  test("a held job keeps its key taken until it is final", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("a", { key: "k" })], now: T0 });
    await store.jobHold({ ids: ["a"], now: T0 });
    const result = await store.jobInsertMany({ jobs: [newJob("b", { key: "k" })], now: T0 });
    assert.deepEqual(result.kept, [{ id: "b", key: "k", existingId: "a" }]);
    await store.jobCancel({ ids: ["a"], now: T0 });
    assert.equal(await stateOf(store, "a"), "cancelled", "a held job can be cancelled");
    const again = await store.jobInsertMany({ jobs: [newJob("c", { key: "k" })], now: T0 });
    assert.equal(again.inserted, 1, "the key is free once the held job is final");
  });

  test("hold and release of a blocked job keep its dependencies", async (store) => {
    await store.jobInsertMany({
      jobs: [flowJob("d1"), flowJob("d2"), flowJob("x", ["d1", "d2"])],
      now: T0,
    });
    await store.jobHold({ ids: ["x"], now: T0 });
    await endJob(store, "d1", "completed", T0 + 1000);
    assert.equal(await stateOf(store, "x"), "held", "still held while d1 completes");
    const [back] = await store.jobRelease({ ids: ["x"], now: T0 + 2000 });
    assert.equal(back?.state, "blocked", "d2 is still open");
    assert.deepEqual(back?.after, ["d1", "d2"]);
    await endJob(store, "d2", "completed", T0 + 3000);
    assert.equal(await stateOf(store, "x"), "pending", "its last dependency unblocks it");
  });

  test("release of a blocked job whose dependencies all completed while held makes it pending", async (store) => {
    await store.jobInsertMany({ jobs: [flowJob("d"), flowJob("x", ["d"])], now: T0 });
    await store.jobHold({ ids: ["x"], now: T0 });
    await endJob(store, "d", "completed", T0 + 1000);
    const [back] = await store.jobRelease({ ids: ["x"], now: T0 + 2000 });
    assert.equal(back?.state, "pending");
  });

  test("release of a blocked job whose dependency died while held cancels it, naming it", async (store) => {
    await store.jobInsertMany({
      jobs: [flowJob("d"), flowJob("x", ["d"]), flowJob("y", ["x"])],
      now: T0,
    });
    await store.jobHold({ ids: ["x"], now: T0 });
    await endJob(store, "d", "dead", T0 + 1000);
    const [back] = await store.jobRelease({ ids: ["x"], now: T0 + 2000 });
    assert.equal(back?.state, "cancelled");
    assert.equal(back?.last_error, 'dependency "d" is dead');
    assert.equal(await stateOf(store, "y"), "cancelled", "its own dependents follow");
  });

  // --- hold and flow control ---

  test("a held job not started by its expiry is cancelled as expired, by the pass and the claim", async (store) => {
    await store.jobInsertMany({
      jobs: [
        newJob("h1", { hold: true, expires_at: T0 + 1000 }),
        newJob("h2", { expires_at: T0 + 1000 }),
        newJob("any", { after_any: ["h1"] }),
        newJob("h3", { hold: true, expires_at: T0 + 3000 }),
      ],
      now: T0,
    });
    await store.jobHold({ ids: ["h2"], now: T0 });
    assert.equal(await stateOf(store, "any"), "blocked");
    assert.equal(await store.jobNextExpiryAt(), T0 + 1000, "held jobs count for the next expiry");
    assert.deepEqual((await store.jobExpire({ now: T0 + 2000 })).sort(), ["h1", "h2"]);
    for (const id of ["h1", "h2"]) {
      const job = await store.jobGet({ id });
      assert.deepEqual([job?.state, job?.last_error], ["cancelled", "expired"], id);
    }
    assert.equal(await stateOf(store, "any"), "pending", "after_any: met by the expiry");
    await assertRejects(
      () => store.jobRelease({ ids: ["h1"], now: T0 + 2000 }),
      conflict(/cancelled/),
    );
    // The claim's own expiry step takes held jobs too, and still starts none of them.
    await store.jobInsertMany({ jobs: [newJob("late", { run_at: T0 + 3500 })], now: T0 });
    const claimed = await store.jobClaim({
      workerId: "w",
      queues: null,
      limit: 10,
      now: T0 + 4000,
      leaseMs: LEASE,
    });
    assert.deepEqual(claimed.map((j) => j.id).sort(), ["any", "late"]);
    const h3 = await store.jobGet({ id: "h3" });
    assert.deepEqual([h3?.state, h3?.last_error], ["cancelled", "expired"]);
    assert.equal(await store.jobNextExpiryAt(), null);
  });

  test("a held job keeps its key, and its unique_for window still runs from its enqueue", async (store) => {
    await store.jobInsertMany({
      jobs: [newJob("k1", { key: "k", unique_for: 60, hold: true })],
      now: T0,
    });
    assert.equal(await stateOf(store, "k1"), "held");
    const held = await store.jobInsertMany({ jobs: [newJob("k2", { key: "k" })], now: T0 + 1000 });
    assert.deepEqual(held.kept, [{ id: "k2", key: "k", existingId: "k1" }]);
    await store.jobCancel({ ids: ["k1"], now: T0 + 2000 });
    const windowed = await store.jobInsertMany({
      jobs: [newJob("k3", { key: "k" })],
      now: T0 + 30_000,
    });
    assert.deepEqual(windowed.kept, [{ id: "k3", key: "k", existingId: "k1" }], "window open");
    const free = await store.jobInsertMany({
      jobs: [newJob("k4", { key: "k" })],
      now: T0 + 60_001,
    });
    assert.equal(free.inserted, 1, "free once the window has passed");
  });

  test("release of a job held from blocked meets an after_any dependency that was cancelled", async (store) => {
    await store.jobInsertMany({
      jobs: [newJob("d"), newJob("x", { after_any: ["d"] })],
      now: T0,
    });
    await store.jobHold({ ids: ["x"], now: T0 });
    await store.jobCancel({ ids: ["d"], now: T0 + 1000 });
    assert.equal(await stateOf(store, "x"), "held");
    const [back] = await store.jobRelease({ ids: ["x"], now: T0 + 2000 });
    assert.equal(back?.state, "pending", "after_any is met by any end");
  });

  // --- edit ---

  test("jobEdit() changes the given fields of a waiting job and keeps the rest", async (store) => {
    await store.jobInsertMany({
      jobs: [newJob("e", { env: { A: "1" }, tags: ["old"], max_retries: 1 })],
      now: T0,
    });
    const job = await store.jobEdit({
      id: "e",
      changes: {
        command: "echo new",
        priority: 7,
        queue: "other",
        runAt: T0 + 60_000,
        timeout: 2.5,
        tags: ["new", "x"],
        env: { B: "2" },
      },
      now: T0 + 1000,
    });
    assert.equal(job.command, "echo new");
    assert.equal(job.priority, 7);
    assert.equal(job.queue, "other");
    assert.equal(job.next_run_at, new Date(T0 + 60_000).toISOString());
    assert.equal(job.timeout, 2.5);
    assert.equal(job.max_retries, 1, "a field left out keeps its value");
    assert.deepEqual(job.tags, ["new", "x"]);
    assert.deepEqual(job.env, { B: "2" });
    assert.equal(job.state, "pending");
    assert.deepEqual(await store.jobGet({ id: "e" }), job);
    const cleared = await store.jobEdit({
      id: "e",
      changes: { tags: null, max_retries: null },
      now: T0 + 2000,
    });
    assert.deepEqual([cleared.tags, cleared.max_retries], [null, null]);
  });

  test("jobEdit() refuses a running or final job, naming its state", async (store) => {
    await addJobIn(store, "run", "processing");
    await addJobIn(store, "done", "completed");
    await assertRejects(
      () => store.jobEdit({ id: "run", changes: { priority: 1 }, now: T0 }),
      conflict(/^Cannot edit job "run": job is processing$/),
    );
    await assertRejects(
      () => store.jobEdit({ id: "done", changes: { priority: 1 }, now: T0 }),
      conflict(/^Cannot edit job "done": job is completed$/),
    );
    await assertRejects(
      () => store.jobEdit({ id: "nope", changes: {}, now: T0 }),
      NotFoundError,
    );
  });

  // --- delete ---

  test("jobDelete() deletes final jobs with their runs, and refuses others, all or none", async (store) => {
    await addJobIn(store, "done", "completed");
    await store.jobInsertMany({ jobs: [newJob("p")], now: T0 });
    await assertRejects(
      () => store.jobDelete({ ids: ["done", "p"] }),
      conflict(/^Cannot delete job "p": job is pending$/),
    );
    assert.equal(await stateOf(store, "done"), "completed", "nothing deleted");
    assert.equal(await store.jobDelete({ ids: ["done"] }), 1);
    assert.equal(await store.jobGet({ id: "done" }), null);
    assert.equal(await store.runOutputGet({ id: "done" }), null, "its runs are gone");
    await assertCounts(store, { pending: 1 });
  });

  // --- actions by filter ---

  test("jobBulkCount() counts the jobs an action by filter would change, with the first ids", async (store) => {
    await addJobIn(store, "done", "completed", { overrides: { tags: ["t"] } });
    await store.jobInsertMany({
      jobs: [
        newJob("a", { tags: ["t"], command: "make Build" }),
        newJob("b", { tags: ["t"], queue: "other" }),
        newJob("c"),
      ],
      now: T0,
    });
    const count = (action: BulkAction, filter: JobFilter) =>
      store.jobBulkCount({ action, filter, sample: 1 });
    assert.deepEqual(await count("cancel", { tags: ["t"] }), { count: 2, ids: ["a"] });
    assert.deepEqual(await count("delete", { tags: ["t"] }), { count: 1, ids: ["done"] });
    assert.deepEqual(await count("cancel", { queue: "other" }), { count: 1, ids: ["b"] });
    assert.deepEqual(await count("cancel", { commandLike: "build" }), { count: 1, ids: ["a"] });
    assert.deepEqual(await count("cancel", { state: "completed" }), { count: 0, ids: [] });
    assert.deepEqual(await count("cancel", { createdBefore: T0 }), { count: 0, ids: [] });
    assert.deepEqual((await count("hold", {})).count, 3);
    assert.deepEqual((await count("release", {})).count, 0);
  });

  test("jobBulkStep() cancels exactly the matching jobs, batch by batch, and leaves the rest", async (store) => {
    const jobs = [];
    for (let i = 0; i < 9; i++) {
      jobs.push(newJob(`j${i}`, { tags: i % 3 === 0 ? ["other"] : ["batch7"] }));
    }
    await store.jobInsertMany({ jobs, now: T0 });
    const total = await bulk(store, "cancel", { state: "pending", tags: ["batch7"] }, 2);
    assert.equal(total.changed, 6);
    assert.ok(total.steps >= 3, "in several steps");
    assert.deepEqual((await allIds(store, "cancelled")).sort(), [
      "j1",
      "j2",
      "j4",
      "j5",
      "j7",
      "j8",
    ]);
    await assertCounts(store, { pending: 3, cancelled: 6 });
  });

  test("jobBulkStep() cancel asks the worker to stop a running job and leaves it running", async (store) => {
    await addJobIn(store, "run", "processing", { overrides: { tags: ["t"] } });
    await store.jobInsertMany({ jobs: [newJob("p", { tags: ["t"] })], now: T0 });
    const total = await bulk(store, "cancel", { tags: ["t"] });
    assert.deepEqual([total.changed, total.requested], [1, 1]);
    assert.equal(await stateOf(store, "run"), "processing");
    const reply = await store.workerRequestsGet({ id: "w-setup" });
    assert.deepEqual(reply.cancelRequested, ["run"]);
  });

  test("jobBulkStep() judges a job claimed between its steps in its new state", async (store) => {
    const jobs = ["a", "b", "c", "d"].map((id) => newJob(id, { tags: ["t"] }));
    await store.jobInsertMany({ jobs, now: T0 });
    const filter = { state: "pending" as const, tags: ["t"] };
    const first = await store.jobBulkStep({ action: "cancel", filter, now: T0, limit: 2 });
    assert.equal(first.changed, 2);
    // A worker claims one of the rest before the next step: it is left alone.
    const [claimed] = await store.jobClaim({
      workerId: "w",
      queues: null,
      limit: 1,
      now: T0,
      leaseMs: LEASE,
    });
    assert.ok(claimed);
    let cursor = first.cursor;
    let changed = first.changed;
    while (cursor !== null) {
      const step = await store.jobBulkStep({ action: "cancel", filter, now: T0, limit: 2, cursor });
      changed += step.changed;
      assert.equal(step.requested, 0, "a state filter of pending leaves a running job alone");
      cursor = step.cursor;
    }
    assert.equal(changed, 3);
    assert.equal(await stateOf(store, claimed.id), "processing");
    await assertCounts(store, { processing: 1, cancelled: 3 });
  });

  test("jobBulkStep() leaves out jobs added after its first step", async (store) => {
    await store.jobInsertMany({
      jobs: ["a", "b", "c"].map((id) => newJob(id, { tags: ["t"] })),
      now: T0,
    });
    const first = await store.jobBulkStep({
      action: "hold",
      filter: { tags: ["t"] },
      now: T0,
      limit: 2,
    });
    await store.jobInsertMany({ jobs: [newJob("late", { tags: ["t"] })], now: T0 });
    const rest = await store.jobBulkStep({
      action: "hold",
      filter: { tags: ["t"] },
      now: T0,
      limit: 2,
      cursor: first.cursor,
    });
    assert.equal(first.changed + rest.changed, 3);
    assert.equal(await stateOf(store, "late"), "pending");
  });

  test("jobBulkStep() holds and releases by filter, keeping dependencies", async (store) => {
    await store.jobInsertMany({
      jobs: [flowJob("d", null, { tags: ["t"] }), flowJob("x", ["d"], { tags: ["t"] })],
      now: T0,
    });
    assert.equal((await bulk(store, "hold", { tags: ["t"] })).changed, 2);
    await assertCounts(store, { held: 2 });
    assert.equal((await bulk(store, "release", { queue: "q-x" })).changed, 1);
    assert.equal(await stateOf(store, "x"), "blocked");
    assert.equal((await bulk(store, "release", {})).changed, 1);
    await endJob(store, "d", "completed", T0 + 20_000);
    assert.equal(await stateOf(store, "x"), "pending");
  });

  test("jobBulkStep() retries by filter and skips a job whose key another job holds", async (store) => {
    await addJobIn(store, "d1", "dead", { overrides: { key: "k" } });
    await addJobIn(store, "d2", "dead");
    await store.jobInsertMany({ jobs: [newJob("holder", { key: "k" })], now: T0 });
    const total = await bulk(store, "retry", {});
    assert.deepEqual([total.changed, total.skipped], [1, 1]);
    assert.equal(await stateOf(store, "d1"), "dead");
    assert.equal(await stateOf(store, "d2"), "pending");
  });

  test("jobBulkStep() deletes final jobs by filter only", async (store) => {
    await addJobIn(store, "old", "completed", { overrides: { tags: ["t"] } });
    await store.jobInsertMany({ jobs: [newJob("p", { tags: ["t"] })], now: T0 + 5000 });
    const total = await bulk(store, "delete", { tags: ["t"] });
    assert.equal(total.changed, 1);
    assert.deepEqual(await allIds(store), ["p"]);
    assert.equal(await store.runOutputGet({ id: "old" }), null);
    await assertCounts(store, { pending: 1 });
  });

  test("jobBulkStep() with createdBefore and commandLike matches only those jobs", async (store) => {
    await store.jobInsertMany({ jobs: [newJob("old", { command: "rsync a" })], now: T0 });
    await store.jobInsertMany({ jobs: [newJob("new", { command: "rsync b" })], now: T0 + 5000 });
    await store.jobInsertMany({ jobs: [newJob("other", { command: "tar" })], now: T0 });
    const total = await bulk(store, "cancel", { createdBefore: T0 + 1, commandLike: "RSYNC" });
    assert.equal(total.changed, 1);
    assert.deepEqual(await allIds(store, "cancelled"), ["old"]);
  });
}
