/**
 * The storage conformance suite: every guarantee of the `Storage` interface,
 * run against any implementation. A driver's test file calls
 * {@linkcode storageConformance} with a factory that makes a fresh, empty
 * database per test; a new storage guarantee extends this suite first, so
 * that every store keeps it.
 *
 * The cases live in `conformance/`, one module per noun, named like the
 * stores' own files (`jobs.ts`, `claim.ts`, `runs.ts` …). Time is a parameter
 * there: every `now` is a fixed clock. The only waits are for another
 * connection's change to reach a watcher: polled with a deadline, and bounded
 * windows in which nothing may happen.
 */
import assert from "node:assert/strict";
import type { ConformanceTest, TestDatabase } from "./conformance/_harness.ts";
import { claimConformance } from "./conformance/claim.ts";
import { configConformance } from "./conformance/config.ts";
import { controlsConformance } from "./conformance/controls.ts";
import { databaseConformance } from "./conformance/database.ts";
import { errorsConformance } from "./conformance/errors.ts";
import { eventsConformance } from "./conformance/events.ts";
import { flowConformance } from "./conformance/flow.ts";
import { flowControlConformance } from "./conformance/flow_control.ts";
import { jobsConformance } from "./conformance/jobs.ts";
import { keysConformance } from "./conformance/keys.ts";
import { queuesConformance } from "./conformance/queues.ts";
import { runsConformance } from "./conformance/runs.ts";
import { schedulesConformance } from "./conformance/schedules.ts";
import { watchConformance } from "./conformance/watch.ts";
import { leasesConformance } from "./conformance/leases.ts";
import { workersConformance } from "./conformance/workers.ts";

export type { TestDatabase };

/** How a store runs the suite. */
export interface ConformanceOptions {
  /** Cases this store cannot run, by title, each with the reason: registered as ignored, with a NOT RUN line. */
  skip?: Record<string, string>;
}

/**
 * Registers the conformance tests for the databases `factory` makes (each
 * empty and new). Each test gets one connection, closed at its end, and the
 * database to open more.
 */
export function storageConformance(
  name: string,
  factory: () => Promise<TestDatabase>,
  options: ConformanceOptions = {},
): void {
  const skip = options.skip ?? {};
  const titles = new Set<string>();
  const test: ConformanceTest = (title, fn) => {
    assert.ok(!titles.has(title), `two cases are titled "${title}"`);
    titles.add(title);
    const run = async () => {
      await using db = await factory();
      await using store = await db.open();
      await fn(store, db);
    };
    // A skipped case is registered ignored (counted as such, never as passed) with its reason.
    const skipped = Object.hasOwn(skip, title);
    if (skipped) console.log(`NOT RUN: ${name}: ${title}: ${skip[title]}`);
    Deno.test({ name: `${name}: ${title}`, ignore: skipped, fn: run });
  };

  jobsConformance(test);
  errorsConformance(test);
  claimConformance(test);
  runsConformance(test);
  workersConformance(test);
  leasesConformance(test);
  configConformance(test);
  watchConformance(test);
  schedulesConformance(test);
  flowControlConformance(test);
  flowConformance(test);
  keysConformance(test);
  queuesConformance(test);
  databaseConformance(test);
  eventsConformance(test);
  controlsConformance(test);

  const unknown = Object.keys(skip).filter((title) => !titles.has(title));
  if (unknown.length > 0) {
    Deno.test(`${name}: every skipped case exists`, () => {
      assert.fail(`No case is titled ${unknown.map((t) => `"${t}"`).join(", ")}`);
    });
  }
}
