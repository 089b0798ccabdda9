/** Many hosts (DESIGN.md "PostgreSQL"): workers on three hosts share one queue and run each job exactly once. */
import assert from "node:assert/strict";
import { multihostTest } from "../_netns.ts";
import { waitFor } from "../_helpers.ts";
import { enqueueMany, read, status } from "../workers/_worker_process.ts";
import { eventLine, parseEvents } from "./_events.ts";

const JOBS = 1000;

multihostTest("3 hosts drain 1,000 jobs: every job runs exactly once", async (t) => {
  const file = `${t.dir}/events.log`;
  // All three start at once: the schema is created by whichever gets there first.
  const workers = await Promise.all(t.hosts.map((host) => t.startWorker(host)));
  const ids = Array.from({ length: JOBS }, (_, i) => `drain-${String(i).padStart(4, "0")}`);
  const began = Date.now();
  await enqueueMany(t.db, ids.map((id) => ({ id, command: eventLine(file, "start") })));

  let counts: Record<string, number> = {};
  await waitFor(async () => {
    counts = (await read.status(t.db)).counts;
    return counts.completed === JOBS;
  }, { timeoutMs: 120_000, intervalMs: 250 }).catch(() => {
    throw new Error(`Not drained in 120 s: counts ${JSON.stringify(counts)}\n${t.logs()}`);
  });
  const drainedMs = Date.now() - began;

  const events = parseEvents(await Deno.readTextFile(file));
  const runs = new Map<string, string[]>();
  for (const e of events) runs.set(e.id, [...(runs.get(e.id) ?? []), `${e.host}#${e.attempt}`]);
  const twice = [...runs].filter(([, r]) => r.length > 1).map(([id, r]) => `${id}: ${r}`);
  assert.deepEqual(twice, [], `jobs that ran more than once:\n${twice.join("\n")}`);
  const never = ids.filter((id) => !runs.has(id));
  assert.deepEqual(never, [], `jobs that never ran: ${never.slice(0, 20).join(" ")}`);
  assert.equal(events.length, JOBS);
  const perHost = new Map<string, number>();
  for (const e of events) perHost.set(e.host, (perHost.get(e.host) ?? 0) + 1);
  for (const host of t.hosts) {
    assert.ok(
      (perHost.get(host.name) ?? 0) > 0,
      `${host.name} ran no job: ${JSON.stringify([...perHost])}\n${t.logs()}`,
    );
  }

  // The real CLI agrees: 1,000 completed, nothing anywhere else.
  const final = await status(t.db);
  assert.equal(final.counts.completed, JOBS);
  for (const [state, n] of Object.entries(final.counts)) {
    if (state !== "completed") assert.equal(n, 0, `${n} jobs ${state}`);
  }
  // Stopped by request, every worker exits 0.
  for (const worker of workers) {
    const { code } = await worker.stop();
    assert.equal(code, 0, worker.log());
  }
  console.log(
    `drained ${JOBS} jobs on 3 hosts in ${drainedMs} ms: ${JSON.stringify([...perHost])}`,
  );
});
