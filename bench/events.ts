/**
 * Scenario 12: the event log's cost per job (DESIGN.md, "The event log").
 * Through the storage layer (no process starts): a batch insert of N jobs,
 * then claims of 4 and their finishes until all are done, on a fresh
 * database with the event triggers and on one with them dropped (for the
 * benchmark only), alternated A B B A in the same run (A B with `--quick`);
 * the best of each side. Targets: with events at most 1.5x without for
 * claim + finish (two events a job); for the batch insert 1.5x on SQLite
 * and 2.5x on PostgreSQL, whose statement trigger with a transition table
 * doubles the server's insert work. The drain rows (scenario 2) run with
 * the events on, as shipped.
 */
import type { BenchContext } from "./_context.ts";
import { openStorage } from "../lib/storage/open_storage.ts";
import type { Storage } from "../lib/storage/storage.ts";
import { abba } from "./_process.ts";
import { type Row, row } from "./_result.ts";
import type { BenchDb } from "./_store.ts";

const SCENARIO = "12 event log";

/** The event triggers of each store (`lib/storage/{sqlite,postgres}/events.ts`). */
const TRIGGERS = {
  sqlite: [
    "jobs_event_insert",
    "jobs_event_state",
    "jobs_event_run",
    "jobs_event_progress",
    "jobs_event_edit",
  ],
  postgres: ["jobs_event_insert", "jobs_event_update"],
};

/** µs per job of one batch insert and of claim + finish. */
interface Cycle {
  insertUs: number;
  claimFinishUs: number;
}

/** Inserts `n` jobs in one batch, then claims (4 at a time) and finishes them all. */
async function cycle(store: Storage, n: number): Promise<Cycle> {
  const now = store.now();
  const insertStarted = performance.now();
  await store.jobInsertMany({
    jobs: Array.from({ length: n }, (_, i) => ({
      id: `b${i}`,
      command: "true",
      queue: "default",
      priority: 0,
      max_retries: null,
      timeout: null,
      env: null,
      cwd: null,
      run_at: now,
      after: null,
      key: null,
      retry_on: null,
    })),
    now,
  });
  const insertUs = ((performance.now() - insertStarted) * 1000) / n;
  const started = performance.now();
  for (let done = 0; done < n;) {
    const claimed = await store.jobClaim({
      workerId: "bench",
      queues: null,
      limit: 4,
      now: store.now(),
      leaseMs: 30_000,
    });
    if (claimed.length === 0) throw new Error(`claimed nothing after ${done} of ${n} jobs`);
    await store.runFinishMany({
      finishes: claimed.map((job) => ({
        id: job.id,
        workerId: "bench",
        attempt: job.attempt,
        outcome: "succeeded" as const,
        exitCode: 0,
        signal: null,
        error: null,
        finishedAt: store.now(),
        stdout: null,
        stderr: null,
        state: "completed" as const,
        nextRunAt: null,
        uncountAttempt: false,
      })),
    });
    done += claimed.length;
  }
  return { insertUs, claimFinishUs: ((performance.now() - started) * 1000) / n };
}

/** One cycle on a fresh database, with the event triggers or without them. */
async function once(ctx: BenchContext, n: number, withEvents: boolean): Promise<Cycle> {
  await using db: BenchDb = await ctx.store.fresh(`events-${withEvents ? "on" : "off"}`);
  await db.createSchema();
  if (!withEvents) {
    for (const trigger of TRIGGERS[ctx.store.kind]) {
      await db.all(
        ctx.store.kind === "sqlite" ? `DROP TRIGGER ${trigger}` : `DROP TRIGGER ${trigger} ON jobs`,
      );
    }
  }
  await using store = await openStorage(db.location);
  const result = await cycle(store, n);
  const [events] = await db.all("SELECT count(*) AS n FROM events");
  const written = Number(events!.n);
  if (withEvents ? written < 2 * n : written !== 0) {
    throw new Error(`${written} events for ${n} jobs ${withEvents ? "with" : "without"} triggers`);
  }
  return result;
}

/** Measures scenario 12 on the context's store. */
export async function benchEvents(ctx: BenchContext): Promise<Row[]> {
  const n = ctx.quick ? 2000 : 5000;
  const postgres = ctx.store.kind === "postgres";
  ctx.log(`${SCENARIO}: ${n} jobs, without and with the event triggers`);
  const runs = await abba(() => once(ctx, n, false), () => once(ctx, n, true), ctx.quick);
  const best = (cycles: Cycle[], key: keyof Cycle) => Math.min(...cycles.map((c) => c[key]));
  const order = ctx.quick ? "without, with" : "without, with, with, without";
  const note = `${n} jobs a run through the storage layer (no process starts), claims of 4; ` +
    `fresh database each, triggers dropped for "without"; runs ${order}, best of each; ` +
    `the drain rows (2) run with events on`;
  const baselineLabel = "no event triggers, same run";
  return [
    row({
      scenario: SCENARIO,
      metric: "claim+finish µs/job with events",
      figure: best(runs.b, "claimFinishUs"),
      unit: "µs",
      baseline: best(runs.a, "claimFinishUs"),
      baselineLabel,
      target: { kind: "ratio_max", value: 1.5 },
      note: `two events a job; ${note}`,
    }),
    row({
      scenario: SCENARIO,
      metric: "batch insert µs/job with events",
      figure: best(runs.b, "insertUs"),
      unit: "µs",
      baseline: best(runs.a, "insertUs"),
      baselineLabel,
      target: { kind: "ratio_max", value: postgres ? 2.5 : 1.5 },
      note: postgres
        ? `one statement trigger with a transition table a batch; ${note}`
        : `one row trigger a job; ${note}`,
    }),
  ];
}
