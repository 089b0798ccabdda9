/**
 * Scenario 7: retention under load. The drain of scenario 2 (N `true` jobs,
 * `worker start --count 4`) on a database where 100,000 finished jobs (with
 * their runs) are old enough to be pruned, so the workers' pruner deletes
 * them in batches while the drain runs; against the same drain on a
 * database with nothing to prune, measured in the same run (target: within
 * 10%, i.e. at least 0.9x). Then the pickup of scenario 3 (jobs enqueued one
 * at a time by another process into idle workers, right after they start,
 * while the pruner's first pass deletes the backlog) against the same on a
 * database with nothing to prune. Each comparison runs plain, pruning,
 * pruning, plain.
 */
import type { BenchContext } from "./_context.ts";
import { type Drained, drainMetric, drainOnce } from "./drain.ts";
import { type Picked, pickupOnce } from "./pickup.ts";
import { abba, mean, percentile, runOk, tempDir } from "./_process.ts";
import { type Row, row } from "./_result.ts";
import type { BenchDb } from "./_store.ts";

const SCENARIO = "7 retention";

/**
 * Adds `prunable` finished jobs (ids `old-…`) with their runs, all final since
 * epoch 0 (old enough for any setting).
 */
async function addPrunable(ctx: BenchContext, db: BenchDb, prunable: number): Promise<void> {
  if (prunable === 0) return;
  await using dir = await tempDir();
  const old = `${dir.path}/old.ndjson`;
  await Deno.writeTextFile(
    old,
    Array.from({ length: prunable }, (_, i) => JSON.stringify({ id: `old-${i}`, command: "true" }))
      .join("\n") + "\n",
  );
  await runOk(ctx.cli.argv(["enqueue", "--file", old]), { db: db.location });
  await db.all("UPDATE jobs SET state = 'completed', updated_at = 0, attempts = 1");
  await db.all(
    `INSERT INTO runs (job_id, attempt, worker_id, started_at, finished_at, outcome, exit_code)
     SELECT id, 1, 'bench-old', 0, 0, 'succeeded', 0 FROM jobs`,
  );
}

/** How many of the old jobs {@linkcode addPrunable} added are left. */
async function leftToPrune(db: BenchDb): Promise<number> {
  const [left] = await db.all("SELECT count(*) AS n FROM jobs WHERE id LIKE 'old-%'");
  return left!.n as number;
}

/** Drains `n` jobs with `prunable` old finished jobs beside them; the rate and how many were left. */
function drainBeside(ctx: BenchContext, n: number, prunable: number): Promise<Drained<number>> {
  return drainOnce(ctx, n, `retention-${prunable}`, {
    prepare: (db) => addPrunable(ctx, db, prunable),
    counted: "runs",
    inspect: leftToPrune,
  });
}

/**
 * Pickup latencies (ms, commit to the job's process) of `n` jobs enqueued
 * one at a time right after 4 idle workers start, with `prunable` old jobs
 * for their pruner's first pass; and how many of those it deleted by the
 * time the last job was enqueued.
 */
function pickupBeside(
  ctx: BenchContext,
  n: number,
  prunable: number,
): Promise<Picked<number>> {
  return pickupOnce(ctx, n, `retention-pickup-${prunable}`, {
    settleMs: 500,
    direct: false,
    prepare: (db) => addPrunable(ctx, db, prunable),
    enqueued: async (db) => prunable - await leftToPrune(db),
    counted: "runs",
  });
}

/**
 * Measures scenario 7: drains, then pickups, without and with the backlog to
 * prune, in the order plain, pruning, pruning, plain (once each with
 * `--quick`); a drain figure is the mean of its runs, a pickup's
 * percentiles are of all its runs' samples.
 */
export async function benchRetention(ctx: BenchContext): Promise<Row[]> {
  const n = ctx.quick ? 500 : 5000;
  const prunable = ctx.quick ? 10_000 : 100_000;
  const drains = await abba(
    () => {
      ctx.log(`${SCENARIO}: plain drain of ${n} jobs`);
      return drainBeside(ctx, n, 0);
    },
    () => {
      ctx.log(`${SCENARIO}: drain of ${n} jobs beside ${prunable} jobs to prune`);
      return drainBeside(ctx, n, prunable);
    },
    ctx.quick,
  );
  const metric = `${drainMetric(n)}, ${prunable.toLocaleString("en-US")} finished jobs to prune`;
  const samples = ctx.quick ? 30 : 60;
  const pickups = await abba(
    () => {
      ctx.log(`${SCENARIO}: pickup of ${samples} jobs, plain`);
      return pickupBeside(ctx, samples, 0);
    },
    () => {
      ctx.log(`${SCENARIO}: pickup of ${samples} jobs while the pruner deletes ${prunable}`);
      return pickupBeside(ctx, samples, prunable);
    },
    ctx.quick,
  );
  const plainLatencies = pickups.a.flatMap((p) => p.latencies);
  const pruneLatencies = pickups.b.flatMap((p) => p.latencies);
  const stopNotes = (runs: { stopNote: string }[]) => runs.map((r) => r.stopNote).filter(Boolean);
  const pickupRow = (q: number) =>
    row({
      scenario: SCENARIO,
      metric: `pickup p${q}, ${prunable.toLocaleString("en-US")} finished jobs to prune`,
      figure: percentile(pruneLatencies, q),
      unit: "ms",
      baseline: percentile(plainLatencies, q),
      baselineLabel: "plain pickup, same run",
      target: { kind: "ratio_max", value: 1.1 },
      note: q === 50
        ? `${samples} jobs per run at 20-120 ms gaps right after 4 idle workers start; the ` +
          `pruner deleted ${pickups.b.map((p) => p.inspected).join(" and ")} of ${prunable} ` +
          `meanwhile; commit to the job's process`
        : [...stopNotes(pickups.a), ...stopNotes(pickups.b)].join("; "),
    });
  return [
    row({
      scenario: SCENARIO,
      metric,
      figure: mean(drains.b.map((d) => d.rate)),
      unit: "jobs/s",
      baseline: mean(drains.a.map((d) => d.rate)),
      baselineLabel: "plain drain, same run",
      target: { kind: "ratio_min", value: 0.9 },
      note: [
        `${drains.b.map((d) => prunable - d.inspected).join(" and ")} of ${prunable} old jobs ` +
        `pruned by the time the drain ended`,
        `runs: ${drains.b.map((d) => d.rate.toFixed(0)).join(", ")} jobs/s pruning, ` +
        `${drains.a.map((d) => d.rate.toFixed(0)).join(", ")} plain`,
        ...stopNotes(drains.a),
        ...stopNotes(drains.b),
      ].join("; "),
    }),
    pickupRow(50),
    pickupRow(99),
  ];
}
