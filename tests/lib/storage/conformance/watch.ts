/**
 * Storage conformance cases for change watching. Every store runs them through
 * `storageConformance()` (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import type { ClaimedJob } from "../../../../lib/storage/storage.ts";
import { waitFor } from "../../../_helpers.ts";
import { failure, finishOf, LEASE, newJob, T0 } from "../_fixtures.ts";
import { assertCounts } from "./_assert.ts";
import { addJobIn, claimOne, stateOf } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";
import {
  awaitWake,
  delay,
  liveWatch,
  QUIET_WINDOW_MS,
  settle,
  WAKE_DEADLINE_MS,
} from "./_watch.ts";

const encoder = new TextEncoder();

/** Registers the cases for change watching. */
export function watchConformance(test: ConformanceTest): void {
  // --- watchChanges ---

  test("watchChanges() hears every kind of write another connection commits", async (store, db) => {
    await using other = await db.open();
    await addJobIn(other, "dead", "dead");
    await other.jobInsertMany({
      jobs: [newJob("to-cancel", { run_at: T0 + 3_600_000 }), newJob("fails"), newJob("forced")],
      now: T0,
    });
    const claimed = await other.jobClaim({
      workerId: "w1",
      queues: null,
      limit: 2,
      now: T0,
      leaseMs: LEASE,
    });
    const byId = Object.fromEntries(claimed.map((j) => [j.id, j]));
    await other.workerRegister({ id: "w1", pid: 1, host: "h", count: 2, queues: null, now: T0 });

    using watch = await liveWatch(store, other);
    let seen = watch.calls;
    const writes: [string, () => Promise<unknown>][] = [
      ["jobInsertMany", () => other.jobInsertMany({ jobs: [newJob("new")], now: T0 })],
      ["jobCancel", () => other.jobCancel({ ids: ["to-cancel"], now: T0 })],
      ["jobRetry", () => other.jobRetry({ ids: ["dead"], now: T0 })],
      ["configSet", () => other.configSet({ key: "backoff_base", value: 3 })],
      ["workerRequestStop", () => other.workerRequestStop({ ids: ["w1"], mode: "graceful" })],
      [
        "runFinishMany into failed",
        () => other.runFinishMany({ finishes: [finishOf(byId.fails!, "w1", failure(T0 + 5000))] }),
      ],
      [
        "runFinishMany into pending",
        () =>
          other.runFinishMany({
            finishes: [finishOf(byId.forced!, "w1", {
              outcome: "interrupted",
              exitCode: null,
              signal: "SIGKILL",
              state: "pending",
              nextRunAt: T0,
              uncountAttempt: true,
            })],
          }),
      ],
    ];
    for (const [what, write] of writes) {
      await write();
      seen = await awaitWake(watch, seen, `${what} by another connection`);
    }
    await assertCounts(store, { pending: 3, failed: 1, cancelled: 1 });
  });

  test(
    "watchChanges() stays quiet for claims, heartbeats, process details and output",
    async (store, db) => {
      await using other = await db.open();
      await other.workerRegister({ id: "w1", pid: 1, host: "h", count: 2, queues: null, now: T0 });
      await other.jobInsertMany({ jobs: [newJob("a"), newJob("b")], now: T0 });

      using watch = await liveWatch(store, other);
      const seen = watch.calls;
      let claimed: ClaimedJob[] = [];
      const start = (job: ClaimedJob, host: string) => ({
        id: job.id,
        workerId: "w1",
        attempt: job.attempt,
        host,
        pgid: 100,
        procStart: "1",
      });
      const output = (job: ClaimedJob, text: string) => ({
        id: job.id,
        workerId: "w1",
        attempt: job.attempt,
        stdout: encoder.encode(text),
        stderr: encoder.encode(""),
      });
      const quietWrites: [string, () => Promise<unknown>][] = [
        ["jobClaim", async () => {
          claimed = await other.jobClaim({
            workerId: "w1",
            queues: null,
            limit: 2,
            now: T0,
            leaseMs: LEASE,
          });
          assert.equal(claimed.length, 2);
        }],
        ["workerHeartbeat", () => other.workerHeartbeat({ id: "w1", now: T0 + 1, leaseMs: LEASE })],
        ["runStartMany", () => other.runStartMany({ starts: claimed.map((j) => start(j, "h1")) })],
        [
          "runOutputUpdateMany",
          () => other.runOutputUpdateMany({ updates: claimed.map((j) => output(j, "one\n")) }),
        ],
        [
          "runRecordMany with starts and outputs only",
          () =>
            other.runRecordMany({
              starts: claimed.map((j) => start(j, "h2")),
              outputs: claimed.map((j) => output(j, "one\ntwo\n")),
              finishes: [],
            }),
        ],
      ];
      for (const [what, write] of quietWrites) {
        await write();
        await delay(QUIET_WINDOW_MS);
        assert.equal(watch.calls, seen, `${what} by another connection woke the watcher`);
      }
      assert.equal((await store.runOutputGet({ id: "a" }))?.stdout, "one\ntwo\n", "they applied");
      // The watch still hears a write that is not quiet: a finish into a
      // retry (a completion need not wake anyone, and on PostgreSQL does not).
      await other.runFinishMany({
        finishes: claimed.map((j) => finishOf(j, "w1", failure(T0 + 5000))),
      });
      await awaitWake(watch, seen, "runFinishMany after the quiet writes");
    },
  );

  test(
    "watchChanges() hears job ends only with jobEnds; a completion that unblocks wakes everyone",
    async (store, db) => {
      await using other = await db.open();
      await other.jobInsertMany({
        jobs: [newJob("done"), newJob("parent"), newJob("child", { after: ["parent"] })],
        now: T0,
      });
      const done = await claimOne(other, "w1", "done");
      const parent = await claimOne(other, "w1", "parent");
      using plain = await liveWatch(store, other);
      using ends = await liveWatch(store, other, { jobEnds: true });
      const plainSeen = await settle(plain);
      const endsSeen = await settle(ends);

      // A drain's finish: news to waiters and live views, not to idle workers.
      await other.runRecordMany({ starts: [], outputs: [], finishes: [finishOf(done, "w1")] });
      const endsNow = await awaitWake(ends, endsSeen, "a completion (with jobEnds)");
      assert.equal(plain.calls, plainSeen, "a plain watch heard a completion");

      // A completion that unblocks a dependent made a job claimable.
      await other.runFinishMany({ finishes: [finishOf(parent, "w1")] });
      await awaitWake(plain, plainSeen, "a completion that unblocked a dependent");
      await awaitWake(ends, endsNow, "a completion that unblocked a dependent (with jobEnds)");
      assert.equal(await stateOf(store, "child"), "pending");
    },
  );

  test("watchChanges() stops calling back once its watch is closed", async (store, db) => {
    await using other = await db.open();
    using control = await liveWatch(store, other);
    const closed = await liveWatch(store, other);
    const seen = await settle(control);
    closed.close();
    const before = closed.calls;
    await other.jobInsertMany({ jobs: [newJob("after-close")], now: T0 });
    await awaitWake(control, seen, "jobInsertMany by another connection");
    assert.equal(closed.calls, before, "a closed watch was called");
    closed.close(); // closing twice is harmless
  });

  test("close() ends the store's watches", async (store, db) => {
    // Deno's sanitizers do not see a file watcher or a listening connection
    // left open, so this checks what a leak does: a closed store calls back.
    await using other = await db.open();
    const closing = await db.open();
    let closed = false;
    let closingCalls = 0;
    const watch = closing.watchChanges(() => closingCalls++);
    try {
      using control = await liveWatch(store, other);
      await waitFor(() => closingCalls > 0, {
        timeoutMs: WAKE_DEADLINE_MS,
        intervalMs: 10,
        message: "the watch on the store to close to hear a write",
      });
      const seen = await settle(control);
      closed = true;
      await closing.close();
      const before = closingCalls;
      await other.jobInsertMany({ jobs: [newJob("after-close")], now: T0 });
      await awaitWake(control, seen, "jobInsertMany by another connection");
      assert.equal(closingCalls, before, "a watch of a store closed without closing it was called");
    } finally {
      watch.close(); // harmless after close(); ends a leaked watch when the check failed
      if (!closed) await closing.close();
    }
  });
}
