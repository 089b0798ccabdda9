import assert from "node:assert/strict";
import { JOB_STATES } from "../../lib/job.ts";
import type { Stats } from "../../lib/stats.ts";
import { cliJson, runCli, storeTest } from "../_helpers.ts";
import { addJobs, assertOk, ISO_TIME, withStore } from "./_cli.ts";

/** The `engine` of each store: its name and version. */
const ENGINE = { sqlite: /^SQLite \d+\.\d+/, postgres: /^PostgreSQL \d+/ };

storeTest(
  "status --json on a new database has every state at zero and where the database is",
  async (tmp) => {
    const stats = await cliJson<Stats>(["status"], { db: tmp.db });
    assert.deepEqual(Object.keys(stats).sort(), [
      "counts",
      "db",
      "engine",
      "next_retry_at",
      "rate_limits",
      "throughput",
      "workers",
    ]);
    assert.equal(stats.db, tmp.display, "the path, or the URL without a password");
    assert.match(stats.engine, ENGINE[tmp.kind]);
    assert.deepEqual(stats.counts, Object.fromEntries(JOB_STATES.map((s) => [s, 0])));
    assert.deepEqual(stats.workers, []);
    assert.equal(stats.next_retry_at, null);
    assert.deepEqual(Object.keys(stats.throughput).sort(), [
      "completed",
      "failed",
      "per_second",
      "window_s",
    ]);
    assert.deepEqual(
      [stats.throughput.completed, stats.throughput.failed, stats.throughput.per_second],
      [0, 0, 0],
    );
  },
);

storeTest("status --json counts jobs per state and shows the next retry", async (tmp) => {
  const now = Date.now();
  await addJobs(tmp.db, [
    { id: "f1", state: "failed", at: now - 10_000 },
    { id: "f2", state: "failed", at: now - 20_000 },
    // Ran an hour ago: outside the throughput window.
    { id: "d1", state: "dead", at: now - 3_600_000 },
    { id: "c1", state: "completed", at: now - 5000 },
    { id: "c2", state: "completed", at: now - 5000 },
    { id: "x1", state: "cancelled", at: now - 3_600_000 },
    { id: "r1", state: "processing" },
    { id: "p1", state: "pending" },
  ]);
  const stats = await cliJson<Stats>(["status"], { db: tmp.db });
  assert.deepEqual(stats.counts, {
    pending: 1,
    blocked: 0,
    held: 0,
    processing: 1,
    completed: 2,
    failed: 2,
    dead: 1,
    cancelled: 1,
  });
  // The seeded failures retry an hour after they ran; f2 ran earlier.
  assert.match(stats.next_retry_at!, ISO_TIME);
  const f2 = await withStore(tmp.db, (store) => store.jobGet({ id: "f2" }));
  assert.equal(stats.next_retry_at, f2?.next_run_at);
  assert.equal(stats.throughput.completed, 2, "both completions are within the window");
  assert.equal(stats.throughput.failed, 2, "the two recent failures, not the old death");
});

storeTest(
  "status prints the database, the counts, workers, next retry and throughput as text",
  async (tmp) => {
    await addJobs(tmp.db, [{ id: "d1", state: "dead" }, { id: "p1", state: "pending" }]);
    const out = assertOk(await runCli(["status"], { db: tmp.db }));
    assert.match(
      out,
      new RegExp(
        `Database\\s+${RegExp.escape(tmp.display)} \\((SQLite|PostgreSQL) [\\d.]+\\)$`,
        "m",
      ),
    );
    assert.match(out, /Jobs\s+2 in all/);
    assert.match(out, /^\s+pending\s+1$/m);
    assert.match(out, /^\s+dead \(DLQ\)\s+1$/m);
    assert.match(out, /^\s+completed\s+0$/m);
    assert.match(out, /Workers\s+0 active/);
    assert.match(out, /Next retry\s+none/);
    assert.match(out, /Throughput\s+0 completed, 1 failed/);
    assert.ok(!out.includes("\x1b["), "no colour when not a terminal");
  },
);

storeTest(
  "status groups workers by host with each host's clock offset and marks a late heartbeat",
  async (tmp) => {
    await withStore(tmp.db, async (store) => {
      const now = store.now();
      const worker = { count: 2, queues: null };
      await store.workerRegister({ ...worker, id: "w-a", pid: 11, host: "host-a", now });
      await store.workerRegister({
        ...worker,
        id: "w-b",
        pid: 12,
        host: "host-b",
        now,
        clockOffsetMs: 250,
      });
      // Silent for 10 s: within the 30 s lease (still listed) but late.
      await store.workerRegister({
        ...worker,
        id: "w-late",
        pid: 13,
        host: "host-b",
        now: now - 10_000,
        clockOffsetMs: 240,
      });
    });
    const text = assertOk(await runCli(["status"], { db: tmp.db }));
    assert.match(text, /Workers +3 active on 2 hosts/);
    assert.match(text, /^ {2}host-a {2}\(clock ±0 ms\)$/m);
    assert.match(text, /^ {2}host-b {2}\(clock \+250 ms\)$/m);
    assert.match(text, /^ {4}w-late {2}pid 13, 2 slot\(s\), heartbeat 1\d s ago \(late\): idle$/m);
    assert.doesNotMatch(text, /w-b .*\(late\)/);
    const stats = await cliJson<Stats>(["status"], { db: tmp.db });
    assert.deepEqual(
      stats.workers.map((w) => [w.id, w.host, w.clock_offset_ms, w.late]),
      [["w-late", "host-b", 240, true], ["w-a", "host-a", 0, false], [
        "w-b",
        "host-b",
        250,
        false,
      ]],
    );
  },
);
