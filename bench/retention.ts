/**
 * Scenario 7: retention under load. The drain of scenario 2 (N `true` jobs,
 * `worker start --count 4`) on a database where 100,000 finished jobs (with
 * their runs) are old enough to be pruned, so the workers' pruner deletes
 * them in batches while the drain runs; against the same drain on a
 * database with nothing to prune, measured in the same run (issue 12: within
 * 10%, i.e. at least 0.9x).
 */
import type { BenchContext } from "./_context.ts";
import { runOk, tempDir, waitFor } from "./_process.ts";
import { type Row, row } from "./_result.ts";
import { startWorkers, stopWorkers } from "./_workers.ts";

const SCENARIO = "7 retention";
const CONCURRENCY = 4;

/** Drains `n` jobs with `prunable` old finished jobs beside them; the rate and what was left. */
async function drainBeside(
  ctx: BenchContext,
  n: number,
  prunable: number,
): Promise<{ rate: number; left: number; note: string }> {
  await using dir = await tempDir();
  await using db = await ctx.store.fresh(`retention-${prunable}`);
  await db.createSchema();
  if (prunable > 0) {
    const old = `${dir.path}/old.ndjson`;
    await Deno.writeTextFile(
      old,
      Array.from({ length: prunable }, (_, i) => JSON.stringify({ id: `p-${i}`, command: "true" }))
        .join("\n") + "\n",
    );
    await runOk(ctx.cli.argv(["enqueue", "--file", old]), { db: db.location });
    // Finished long ago (epoch 0), each with its run: what a busy queue leaves behind.
    await db.all("UPDATE jobs SET state = 'completed', updated_at = 0, attempts = 1");
    await db.all(
      `INSERT INTO runs (job_id, attempt, worker_id, started_at, finished_at, outcome, exit_code)
       SELECT id, 1, 'bench-old', 0, 0, 'succeeded', 0 FROM jobs`,
    );
  }
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

/** Measures scenario 7. */
export async function benchRetention(ctx: BenchContext): Promise<Row[]> {
  const n = ctx.quick ? 500 : 5000;
  const prunable = ctx.quick ? 10_000 : 100_000;
  ctx.log(`${SCENARIO}: plain drain of ${n} jobs`);
  const plain = await drainBeside(ctx, n, 0);
  ctx.log(`${SCENARIO}: drain of ${n} jobs beside ${prunable} jobs to prune`);
  const pruning = await drainBeside(ctx, n, prunable);
  const metric = `${n.toLocaleString("en-US")} true jobs, --count ${CONCURRENCY}, ` +
    `${prunable.toLocaleString("en-US")} finished jobs to prune`;
  return [row({
    scenario: SCENARIO,
    metric,
    figure: pruning.rate,
    unit: "jobs/s",
    baseline: plain.rate,
    baselineLabel: "plain drain, same run",
    target: { kind: "ratio_min", value: 0.9 },
    note: [
      `${prunable - pruning.left} of ${prunable} old jobs pruned by the time the drain ended`,
      plain.note,
      pruning.note,
    ].filter(Boolean).join("; "),
  })];
}
