/**
 * Scenario 8: drain and pickup while 1,000 schedules fall due. Each
 * schedule fires once a minute at its own second (`S * * * * *`, S = i mod
 * 60, so about 17 fire every second), and the workers of the run fire them
 * (a guarded transaction each) while they drain and pick up jobs. The
 * schedules' jobs go to a queue the workers do not serve (`--queue
 * default`), so the work measured is the same as in the plain run; the
 * plain run, right before, uses the same `--queue default`. Target (issue
 * 12): drain at least 0.9x and pickup p50/p99 at most 1.1x the plain figures.
 */
import { nextDueAfter } from "../lib/schedule.ts";
import { openStorage } from "../lib/storage/open_storage.ts";
import type { BenchContext, BenchSeed } from "./_context.ts";
import { benchDrain } from "./drain.ts";
import { benchPickup } from "./pickup.ts";
import { figureOf, type Row, row } from "./_result.ts";

const SCENARIO = "9 schedules";
const SCHEDULES = 1000;
const WORKER_ARGS = ["--queue", "default"];

/** Adds `n` schedules, each due once a minute at second i mod 60, their jobs on queue `scheduled`. */
export async function addBenchSchedules(location: string, n: number): Promise<void> {
  await using store = await openStorage(location);
  const now = store.now();
  for (let i = 0; i < n; i++) {
    const cron = `${i % 60} * * * * *`;
    await store.scheduleInsert({
      schedule: {
        name: `bench-${i}`,
        cron,
        tz: "UTC",
        catch_up: "one",
        overlap: false,
        job: {
          command: "true",
          queue: "scheduled",
          priority: 0,
          max_retries: null,
          timeout: null,
          env: null,
          cwd: null,
        },
        paused: false,
        next_run_at: nextDueAfter(cron, "UTC", now),
      },
      now,
    });
  }
}

/** Measures scenario 8 on SQLite: plain, then with the schedules, for drain and pickup. */
export async function benchSchedules(ctx: BenchContext): Promise<Row[]> {
  const plain: BenchSeed = { apply: () => Promise.resolve(), workerArgs: WORKER_ARGS };
  const seeded: BenchSeed = {
    apply: (db) => addBenchSchedules(db.location, SCHEDULES),
    workerArgs: WORKER_ARGS,
  };
  const quiet = { ...ctx, log: () => {} };
  ctx.log(`${SCENARIO}: drain, plain`);
  const drainPlain = await benchDrain({ ...quiet, seed: plain }, 1);
  ctx.log(`${SCENARIO}: drain with ${SCHEDULES} schedules`);
  const drainSeeded = await benchDrain({ ...quiet, seed: seeded }, 1);
  ctx.log(`${SCENARIO}: pickup, plain`);
  const pickupPlain = await benchPickup({ ...quiet, seed: plain });
  ctx.log(`${SCENARIO}: pickup with ${SCHEDULES} schedules`);
  const pickupSeeded = await benchPickup({ ...quiet, seed: seeded });

  const drainMetric = drainPlain[0]!.metric;
  const versus = (
    metric: string,
    plainRows: Row[],
    seededRows: Row[],
    unit: string,
    target: { kind: "ratio_min" | "ratio_max"; value: number },
  ) =>
    row({
      scenario: SCENARIO,
      metric: `${metric}, ${SCHEDULES} schedules due`,
      figure: figureOf(seededRows, metric) ?? NaN,
      unit,
      baseline: figureOf(plainRows, metric),
      baselineLabel: "the same without schedules",
      target,
    });
  return [
    {
      ...versus(drainMetric, drainPlain, drainSeeded, "jobs/s", { kind: "ratio_min", value: 0.9 }),
      note: "each schedule fires once a minute at its own second; their jobs wait on a queue " +
        "the workers do not serve; both runs use worker start --queue default",
    },
    versus("latency p50", pickupPlain, pickupSeeded, "ms", { kind: "ratio_max", value: 1.1 }),
    versus("latency p99", pickupPlain, pickupSeeded, "ms", { kind: "ratio_max", value: 1.1 }),
  ];
}
