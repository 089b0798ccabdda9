/**
 * `queuectl events` end to end (README "Events"): a consumer killed and
 * restarted with `--since` during a drain sees every event once, in order;
 * `--follow` wakes on commits; a cursor the pruner passed is exit 1.
 */
import assert from "node:assert/strict";
import type { QueueEvent } from "../../lib/event.ts";
import { cliCommand, runCli, storeTest, waitFor, watchChild } from "../_helpers.ts";
import { startWorker, status } from "../workers/_worker_process.ts";
import { assertOneLineError, withStore } from "./_cli.ts";

const JOBS = 5000;
const RESTARTS = 20;

function parseLines(text: string): QueueEvent[] {
  // The last line may be cut short by the kill: only whole lines count.
  const lines = text.split("\n");
  lines.pop();
  return lines.filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as QueueEvent);
}

storeTest(
  "a consumer killed and restarted with --since 20 times during a 5,000-job drain on 2 processes sees every event once, in order",
  async (tmp) => {
    const file = `${tmp.dir}/jobs.ndjson`;
    await Deno.writeTextFile(
      file,
      Array.from({ length: JOBS }, (_, i) => JSON.stringify({ id: `j${i}`, command: "true" }))
        .join("\n") + "\n",
    );
    const enqueued = await runCli(["enqueue", "--file", file], { db: tmp.db });
    assert.equal(enqueued.code, 0, enqueued.stderr);
    await using w1 = await startWorker(tmp.db, ["--count", "2"]);
    await using w2 = await startWorker(tmp.db, ["--count", "2"]);

    const seen: QueueEvent[] = [];
    let since = 0;
    const drained = async () => {
      const s = await status(tmp.db);
      return s.counts.completed === JOBS;
    };
    for (let round = 0; round <= RESTARTS; round++) {
      const last = round === RESTARTS;
      const child = cliCommand(
        last
          ? ["events", "--since", String(since)]
          : ["events", "--follow", "--since", String(since)],
        { db: tmp.db },
      ).spawn();
      const watched = watchChild(child);
      if (!last) {
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 500));
        watched.kill("SIGKILL");
      }
      await watched.status;
      await watched.reading;
      const got = parseLines(watched.stdout());
      seen.push(...got);
      if (got.length > 0) since = got.at(-1)!.seq;
      if (round === RESTARTS - 1) await waitFor(drained, { timeoutMs: 120_000 });
    }
    await w1.stop();
    await w2.stop();
    const all = await withStore(tmp.db, async (store) => {
      const events: QueueEvent[] = [];
      let after = 0;
      for (;;) {
        const page = await store.eventList({ after, limit: 5000 });
        events.push(...page.events);
        if (page.events.length === 0) return events;
        after = page.through;
      }
    });
    // The workers' own stop came after the last read: compare up to what was seen.
    const expected = all.filter((e) => e.seq <= since);
    assert.equal(seen.length, expected.length, "every event once");
    assert.deepEqual(seen.map((e) => e.seq), expected.map((e) => e.seq), "in order, none twice");
    const completed = seen.filter((e) => e.type === "completed");
    assert.equal(completed.length, JOBS, "every job's completion was seen");
    assert.equal(new Set(completed.map((e) => e.job)).size, JOBS);
    assert.equal(seen.filter((e) => e.type === "started").length, JOBS);
  },
);

storeTest("events --follow prints an event soon after it commits, and filters", async (tmp) => {
  const child = cliCommand(["events", "--follow", "--type", "enqueued", "--queue", "mail"], {
    db: tmp.db,
  }).spawn();
  const watched = watchChild(child);
  try {
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(
      (await runCli(["enqueue", "--queue", "other", "--", "true"], { db: tmp.db })).code,
      0,
    );
    const added = await runCli(["enqueue", "--queue", "mail", "--id", "m1", "--", "true"], {
      db: tmp.db,
    });
    assert.equal(added.code, 0, added.stderr);
    await waitFor(() => watched.stdout().includes('"m1"'), { timeoutMs: 10_000 });
    const events = parseLines(watched.stdout());
    assert.deepEqual(events.map((e) => [e.job, e.type, e.queue]), [["m1", "enqueued", "mail"]]);
  } finally {
    watched.kill("SIGTERM");
    await watched.status;
    await watched.reading;
  }
});

storeTest("events --since below the pruned mark is exit 1, saying so", async (tmp) => {
  assert.equal((await runCli(["enqueue", "--", "true"], { db: tmp.db })).code, 0);
  assert.equal((await runCli(["enqueue", "--", "true"], { db: tmp.db })).code, 0);
  await withStore(tmp.db, (store) => store.eventPrune({ before: Date.now() + 60_000, limit: 1 }));
  const result = await runCli(["events", "--since", "0"], { db: tmp.db });
  assertOneLineError(result, 1, /Events after seq 0 were pruned/, /--since 1/);
  const after = await runCli(["events", "--since", "1"], { db: tmp.db });
  assert.equal(after.code, 0, after.stderr);
  assert.equal(parseLines(after.stdout).length, 1);
});
