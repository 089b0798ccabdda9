/**
 * Flow control across hosts (README "Flow control"; DESIGN.md "Flow
 * control"): a rate limit holds for workers on three hosts sharing one
 * PostgreSQL, judged by the jobs' own start stamps.
 */
import assert from "node:assert/strict";
import { multihostTest } from "../_netns.ts";
import { waitFor } from "../_helpers.ts";
import { cliOk, enqueueMany, read } from "../workers/_worker_process.ts";
import { loggedJob, parseEvents } from "./_events.ts";

const JOBS = 60;
const RATE = 5;
const PERIOD_MS = 1000;

/** The most of `stamps` (sorted) inside one half-open window `[t, t + ms)`, with where it starts. */
function busiestWindow(stamps: number[], ms: number): { count: number; from: number } {
  let best = { count: 0, from: NaN };
  for (let i = 0, j = 0; i < stamps.length; i++) {
    while (j < stamps.length && stamps[j]! < stamps[i]! + ms) j++;
    if (j - i > best.count) best = { count: j - i, from: stamps[i]! };
  }
  return best;
}

multihostTest(
  "a rate of 5/1s holds across 3 hosts × --count 4: never 6 starts in 1 s, nothing failed",
  async (t) => {
    const file = `${t.dir}/events.log`;
    await cliOk(["queue", "set", "default", "--rate", `${RATE}/${PERIOD_MS / 1000}s`], {
      db: t.db,
    });
    const workers = await Promise.all(
      t.hosts.map((host) => t.startWorker(host, { args: ["--count", "4"] })),
    );
    const ids = Array.from({ length: JOBS }, (_, i) => `rate-${String(i).padStart(2, "0")}`);
    await enqueueMany(t.db, ids.map((id) => ({ id, command: loggedJob(file, "true") })));

    let counts: Record<string, number> = {};
    await waitFor(async () => {
      counts = (await read.status(t.db)).counts;
      return counts.completed === JOBS;
    }, { timeoutMs: 60_000, intervalMs: 250 }).catch(() => {
      throw new Error(`Not done in 60 s: counts ${JSON.stringify(counts)}\n${t.logs()}`);
    });
    for (const [state, n] of Object.entries(counts)) {
      if (state !== "completed") assert.equal(n, 0, `${n} jobs ${state}: nothing may fail`);
    }

    const events = parseEvents(await Deno.readTextFile(file));
    const starts = events.filter((e) => e.kind === "start");
    assert.equal(starts.length, JOBS, "every job started once");
    assert.deepEqual(new Set(starts.map((e) => `${e.id}#${e.attempt}`)).size, JOBS);
    const hosts = new Set(starts.map((e) => e.host));
    assert.equal(hosts.size, 3, `every host started jobs: ${[...hosts]}`);

    // The store's start stamps (the claims, which the limit is defined on:
    // README "Flow control"): never 6 in one window of 1 s.
    const claims = new Map(
      (await t.admin("SELECT job_id, started_at FROM runs")).map((r) => [
        r.job_id as string,
        Number(r.started_at),
      ]),
    );
    const claimed = [...claims.values()].sort((a, b) => a - b);
    assert.equal(claimed.length, JOBS);
    const busiestClaims = busiestWindow(claimed, PERIOD_MS);
    assert.ok(busiestClaims.count <= RATE, `claims: ${claimed}`);

    // The jobs' own stamps (`date +%s%3N` in each job's shell). A job's
    // process starts its lag after its claim; the lags differ by the spawn's
    // jitter and by each host's estimate of the server clock, so the stamps
    // are held to a window shortened by that spread: 6 stamps inside it would
    // mean 6 claims inside 1 s. The spread must stay small, or it would hide
    // a breach.
    const stamps = starts.map((e) => e.ms).sort((a, b) => a - b);
    const lags = starts.map((e) => e.ms - claims.get(e.id)!);
    const spread = Math.max(...lags) - Math.min(...lags);
    assert.ok(spread < 100, `claim-to-process lags spread over ${spread} ms: ${lags}`);
    const window = PERIOD_MS - spread;
    const busiest = busiestWindow(stamps, window);
    assert.ok(
      busiest.count <= RATE,
      `${busiest.count} jobs started in [${busiest.from}, ${busiest.from + window}) ms: ` +
        `${stamps.filter((s) => s >= busiest.from && s < busiest.from + window)}`,
    );
    const literal = busiestWindow(stamps, PERIOD_MS).count;
    const span = stamps.at(-1)! - stamps[0]!;
    assert.ok(span >= 11_000, `60 starts at 5/1s take at least 11 s, took ${span} ms`);

    for (const worker of workers) {
      const { code } = await worker.stop();
      assert.equal(code, 0, worker.log());
    }
    console.log(
      `60 jobs on 3 hosts in ${span} ms; lags spread ${spread} ms; busiest ${window} ms window of ` +
        `the jobs' stamps: ${busiest.count}, of 1 s: ${literal}; of the claims' 1 s: ${busiestClaims.count}; ` +
        `per host ${
          JSON.stringify([...hosts].map((h) => [h, starts.filter((e) => e.host === h).length]))
        }`,
    );
  },
);
