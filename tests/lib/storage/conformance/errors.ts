/**
 * Storage conformance cases for how failures reach the caller. Every store
 * runs them through `storageConformance()` (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import { newJob, T0 } from "../_fixtures.ts";
import { addJobIn } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";

/** Registers the cases for how failures reach the caller. */
export function errorsConformance(test: ConformanceTest): void {
  // --- the async contract ---

  test("every failure arrives as a rejected promise, never as a synchronous throw", async (store) => {
    await addJobIn(store, "c1", "completed");
    const failing: [string, () => Promise<unknown>][] = [
      ["jobInsertMany", () => store.jobInsertMany({ jobs: [newJob("c1")], now: T0 })],
      [
        "jobInsertMany (after)",
        () => store.jobInsertMany({ jobs: [newJob("n1", { after: ["ghost"] })], now: T0 }),
      ],
      [
        "jobInsertMany (key)",
        () =>
          store.jobInsertMany({
            jobs: [newJob("n2", { key: "k" }), newJob("n3", { key: "k" })],
            now: T0,
            onConflict: "fail",
          }),
      ],
      ["jobRetry", () => store.jobRetry({ ids: ["ghost"], now: T0 })],
      ["jobCancel", () => store.jobCancel({ ids: ["c1"], now: T0 })],
    ];
    for (const [method, call] of failing) {
      let promise: Promise<unknown>;
      try {
        promise = call();
      } catch (error) {
        assert.fail(`${method}() threw synchronously instead of rejecting: ${error}`);
      }
      await assert.rejects(promise, Error, `${method}() rejects`);
    }
  });
}
