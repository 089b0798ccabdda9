/**
 * Scenario 7: retention under load. The drain of scenario 2 (N `true` jobs,
 * `worker start --count 4`) on a database where 100,000 finished jobs (with
 * their runs) are old enough to be pruned, so the workers' pruner deletes
 * them in batches while the drain runs; against the same drain on a
 * database with nothing to prune, measured in the same run (issue 12: within
 * 10%, i.e. at least 0.9x). Then the pickup of scenario 3 (jobs enqueued one
 * at a time by another process into idle workers, right after they start,
 * while the pruner's first pass deletes the backlog) against the same on a
 * database with nothing to prune. Each comparison runs plain, pruning,
 * pruning, plain.
 */
import type { BenchContext } from "./_context.ts";
import { abba, mean, percentile, ROOT, runOk, tempDir, waitFor } from "./_process.ts";
import { type Row, row } from "./_result.ts";
import { startWorkers, stopWorkers } from "./_workers.ts";

const SCENARIO = "7 retention";
const CONCURRENCY = 4;

/** Adds `prunable` finished jobs with their runs, all final since epoch 0 (old enough for any setting). */
async function addPrunable(
  ctx: BenchContext,
  db: { location: string; all(sql: string): Promise<Record<string, unknown>[]> },
  dir: string,
  prunable: number,
): Promise<void> {
  if (prunable === 0) return;
  const old = `${dir}/old.ndjson`;
  await Deno.writeTextFile(
    old,
    Array.from({ length: prunable }, (_, i) => JSON.stringify({ id: `p-${i}`, command: "true" }))
      .join("\n") + "\n",
  );
  await runOk(ctx.cli.argv(["enqueue", "--file", old]), { db: db.location });
  await db.all("UPDATE jobs SET state = 'completed', updated_at = 0, attempts = 1");
  await db.all(
    `INSERT INTO runs (job_id, attempt, worker_id, started_at, finished_at, outcome, exit_code)
     SELECT id, 1, 'bench-old', 0, 0, 'succeeded', 0 FROM jobs`,
  );
}

/**
 * Pickup latencies (ms, commit to the job's process) of `n` jobs enqueued
 * one at a time right after 4 idle workers start, with `prunable` old jobs
 * for their pruner's first pass; and how many of those it deleted meanwhile.
 */
async function pickupBeside(
  ctx: BenchContext,
  n: number,
  prunable: number,
): Promise<{ latencies: number[]; pruned: number; note: string }> {
  await using dir = await tempDir();
  await using db = await ctx.store.fresh(`retention-pickup-${prunable}`);
  await db.createSchema();
  await addPrunable(ctx, db, dir.path, prunable);
  const worker = await startWorkers(ctx, db, CONCURRENCY, 500);
  let note: string;
  let enqueued: { id: string; commit: number }[];
  let pruned = 0;
  try {
    enqueued = JSON.parse(
      (await runOk([
        Deno.execPath(),
        "run",
        "-A",
        `${ROOT}/bench/_enqueuer.ts`,
        db.location,
        String(n),
        "20",
        "120",
        "42",
      ])).stdout,
    );
    const [left] = await db.all("SELECT count(*) AS n FROM jobs WHERE id LIKE 'p-%'");
    pruned = prunable - (left!.n as number);
    await waitFor(async () => {
      const [r] = await db.all(
        "SELECT count(*) AS n FROM runs WHERE finished_at > 0 AND outcome = 'succeeded'",
      );
      return r!.n === n;
    }, { timeoutMs: 60_000, intervalMs: 100, message: `${n} picked up jobs` });
  } finally {
    note = await stopWorkers(worker);
  }
  const decoder = new TextDecoder();
  const ran = new Map<string, number>();
  for (const r of await db.all("SELECT job_id, stdout FROM runs WHERE finished_at > 0")) {
    const text = r.stdout instanceof Uint8Array ? decoder.decode(r.stdout) : "";
    ran.set(r.job_id as string, Number(text.trim()) / 1e6);
  }
  const latencies = enqueued.map((job) => {
    const at = ran.get(job.id);
    if (!at) throw new Error(`job ${job.id} left no start time in its output`);
    return at - job.commit;
  });
  return { latencies, pruned, note };
}

/** Drains `n` jobs with `prunable` old finished jobs beside them; the rate and what was left. */
async function drainBeside(
  ctx: BenchContext,
  n: number,
  prunable: number,
): Promise<{ rate: number; left: number; note: string }> {
  await using dir = await tempDir();
  await using db = await ctx.store.fresh(`retention-${prunable}`);
  await db.createSchema();
  await addPrunable(ctx, db, dir.path, prunable);
  const file = `${dir.path}/jobs.ndjson`;
  await Deno.writeTextFile(
    file,
    Array.from({ length: n }, (_, i) => JSON.stringify({ id: `d-${i}`, command: "true" }))
      .join("\n") + "\n",
  );
  await runOk(ctx.cli.argv(["enqueue", "--file", file]), { db: db.location });
  const worker = await startWorkers(ctx, db, CONCURRENCY, 0);
  let stopNote: string;
  try {
    await waitFor(async () => {
      const [r] = await db.all(
        "SELECT count(*) AS n FROM runs WHERE finished_at > 0 AND outcome = 'succeeded'",
      );
      return r!.n === n;
    }, { timeoutMs: Math.max(120_000, n * 100), intervalMs: 100, message: `${n} drained jobs` });
  } finally {
    stopNote = await stopWorkers(worker);
  }
  const [span] = await db.all(
    `SELECT min(started_at) AS first, max(finished_at) AS last FROM runs WHERE finished_at > 0`,
  );
  const [left] = await db.all("SELECT count(*) AS n FROM jobs WHERE id LIKE 'p-%'");
  const ms = Math.max(1, (span!.last as number) - (span!.first as number));
  return { rate: n / (ms / 1000), left: left!.n as number, note: stopNote };
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
  const metric = `${n.toLocaleString("en-US")} true jobs, --count ${CONCURRENCY}, ` +
    `${prunable.toLocaleString("en-US")} finished jobs to prune`;
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
  const stopNotes = (runs: { note: string }[]) => runs.map((r) => r.note).filter(Boolean);
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
          `pruner deleted ${pickups.b.map((p) => p.pruned).join(" and ")} of ${prunable} ` +
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
        `${drains.b.map((d) => prunable - d.left).join(" and ")} of ${prunable} old jobs ` +
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
