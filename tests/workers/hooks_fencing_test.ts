/**
 * Hooks and fencing (README "Hooks", DESIGN.md "Fencing"): an attempt this
 * worker lost (rescued elsewhere meanwhile) ends with a finish the store
 * refuses, and a refused finish runs no `on_finish` hook; a finish that
 * commits runs it.
 */
import assert from "node:assert/strict";
import { tryParseJobInput } from "../../lib/job_input.ts";
import { SqliteStorage } from "../../lib/storage/sqlite/store.ts";
import type { SupervisorEvent } from "../../workers/events.ts";
import { Supervisor } from "../../workers/supervisor.ts";
import { waitFor, withTempDb } from "../_helpers.ts";

Deno.test("a finish refused for a lost attempt runs no hook; one that commits does", async () => {
  await using tmp = await withTempDb();
  await using store = SqliteStorage.open(tmp.db);
  await store.configSet({ key: "lease_timeout", value: 3 });
  const events: SupervisorEvent[] = [];
  const supervisor = await Supervisor.start({
    store,
    count: 1,
    queues: null,
    onEvent: (event) => events.push(event),
  });
  try {
    const pidFile = `${tmp.dir}/lost.pid`;
    const lostMarker = `${tmp.dir}/lost.hook`;
    const now = Date.now();
    await store.jobInsertMany({
      jobs: [
        tryParseJobInput({
          id: "lost",
          command: `echo $$ > '${pidFile}'; sleep 30`,
          max_retries: 0,
          on_finish: `touch '${lostMarker}'`,
        }, now)!,
      ],
      now,
    });
    await waitFor(async () => (await Deno.readTextFile(pidFile).catch(() => "")).trim(), {
      message: "the job to start",
    });
    // Another host's rescuer takes the attempt as if its lease had expired.
    const later = Date.now() + 600_000;
    const rescued = await store.runFinishMany({
      finishes: [{
        id: "lost",
        workerId: supervisor.id,
        attempt: 1,
        outcome: "interrupted",
        exitCode: null,
        signal: null,
        error: "interrupted: lease expired (test)",
        finishedAt: Date.now(),
        stdout: null,
        stderr: null,
        state: "dead",
        nextRunAt: null,
        uncountAttempt: false,
        ifLeaseExpired: true,
      }],
      now: later,
    });
    assert.deepEqual(rescued, ["lost"]);
    const end = await waitFor(
      () => events.find((e) => e.type === "job:end" && e.id === "lost"),
      { timeoutMs: 15_000, message: "the worker to end the attempt it lost" },
    );
    assert.equal(end.type === "job:end" && end.applied, false, "the store refused its finish");

    // A job that finishes as usual runs its hook (the hooks are on in this worker).
    const okMarker = `${tmp.dir}/ok.hook`;
    await store.jobInsertMany({
      jobs: [
        tryParseJobInput({ id: "ok", command: "true", on_finish: `touch '${okMarker}'` }, now)!,
      ],
      now: Date.now(),
    });
    supervisor.wake();
    await waitFor(async () => (await store.jobGetWithRuns({ id: "ok" }))?.runs[0]?.hook ?? null, {
      timeoutMs: 15_000,
      message: "the hook of ok",
    });
    assert.ok(await Deno.stat(okMarker).then(() => true, () => false));

    assert.equal(await Deno.stat(lostMarker).then(() => true, () => false), false, "no hook ran");
    const lost = await store.jobGetWithRuns({ id: "lost" });
    assert.equal(lost?.state, "dead");
    assert.equal(lost?.runs[0]?.hook ?? null, null);
    const hookEvents = (await store.eventList({ after: 0, limit: 100, types: ["hook"] })).events;
    assert.deepEqual(hookEvents.map((e) => e.job), ["ok"]);
  } finally {
    await supervisor.stop("force");
  }
});
