/**
 * Scenario 9: drain and pickup while 1,000 schedules fall due. Each
 * schedule fires once a minute at its own second (`S * * * * *`, S = i mod
 * 60, so about 17 fire every second), and the workers of the run fire them
 * (a guarded transaction each) while they drain and pick up jobs. The
 * schedules' jobs go to a queue the workers do not serve (`--queue
 * default`), so the work measured is the same as in the plain runs, which
 * use the same `--queue default`. Target: drain at least 0.9x and
 * pickup p50/p99 at most 1.1x the plain figures.
 */
import { nextDueAfter } from "../lib/schedule.ts";
import { openStorage } from "../lib/storage/open_storage.ts";
import type { BenchContext, BenchSeed } from "./_context.ts";
import { drainJobs, drainMetric, drainOnce } from "./drain.ts";
import { benchPickup } from "./pickup.ts";
import { figureOf, type Row, row } from "./_result.ts";
import { abba, mean } from "./_process.ts";

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

/**
 * Measures scenario 9 on SQLite: drains and pickups without and with the
 * schedules, in the order plain, seeded, seeded, plain (once each with
 * `--quick`), each figure the mean of its runs.
 */
export async function benchSchedules(ctx: BenchContext): Promise<Row[]> {
  const plain: BenchSeed = { apply: () => Promise.resolve(), workerArgs: WORKER_ARGS };
  const seeded: BenchSeed = {
    apply: (db) => addBenchSchedules(db.location, SCHEDULES),
    workerArgs: WORKER_ARGS,
  };
  const quiet = { ...ctx, log: () => {} };
  const n = drainJobs(ctx);
  const drains = await abba(
    () => {
      ctx.log(`${SCENARIO}: drain, plain`);
      return drainOnce({ ...quiet, seed: plain }, n, "schedules-plain");
    },
    () => {
      ctx.log(`${SCENARIO}: drain with ${SCHEDULES} schedules`);
      return drainOnce({ ...quiet, seed: seeded }, n, "schedules-seeded");
    },
    ctx.quick,
  );
  const pickups = await abba(
    () => {
      ctx.log(`${SCENARIO}: pickup, plain`);
      return benchPickup({ ...quiet, seed: plain });
    },
    () => {
      ctx.log(`${SCENARIO}: pickup with ${SCHEDULES} schedules`);
      return benchPickup({ ...quiet, seed: seeded });
    },
    ctx.quick,
  );

  const list = (values: number[], digits: number) =>
    values.map((v) => v.toFixed(digits)).join(", ");
  const versus = (
    metric: string,
    plainFigures: number[],
    seededFigures: number[],
    unit: string,
    target: { kind: "ratio_min" | "ratio_max"; value: number },
    note: string,
  ) => {
    const digits = unit === "jobs/s" ? 0 : 2;
    return row({
      scenario: SCENARIO,
      metric: `${metric}, ${SCHEDULES} schedules due`,
      figure: mean(seededFigures),
      unit,
      baseline: mean(plainFigures),
      baselineLabel: "the same without schedules",
      target,
      note: `${note}runs: ${list(seededFigures, digits)} with, ${
        list(plainFigures, digits)
      } without`,
    });
  };
  const latency = (q: number) => (rows: Row[]) => figureOf(rows, `latency p${q}`) ?? NaN;
  return [
    versus(
      drainMetric(n),
      drains.a.map((d) => d.rate),
      drains.b.map((d) => d.rate),
      "jobs/s",
      { kind: "ratio_min", value: 0.9 },
      "each schedule fires once a minute at its own second; their jobs wait on a queue " +
        "the workers do not serve; both kinds of run use worker start --queue default; ",
    ),
    ...[50, 99].map((q) =>
      versus(
        `latency p${q}`,
        pickups.a.map(latency(q)),
        pickups.b.map(latency(q)),
        "ms",
        { kind: "ratio_max", value: 1.1 },
        "",
      )
    ),
  ];
}
