/**
 * Scenario 1: `queuectl enqueue --file` of N jobs from NDJSON, the whole CLI
 * process, against the raw rate of inserting the same rows into the same
 * schema with one prepared statement in one transaction.
 *
 * On PostgreSQL (`--store postgres`): the same CLI run against the SQLite
 * figure of the same run (target: at least 0.5x), and beside PostgreSQL's
 * own raw insert (one `INSERT … SELECT FROM unnest(arrays)`).
 */
import type { BenchContext } from "./_context.ts";
import { benchJob, benchNdjson, createSchema, INSERT_JOB, jobCounts, openDb } from "./_db.ts";
import { runOk, tempDir } from "./_process.ts";
import { figureOf, type Row, row, SQLITE_BASELINE } from "./_result.ts";

const SCENARIO = "1 batch enqueue";

/** Inserts `n` benchmark jobs straight into a fresh database; returns jobs/s. */
export async function rawInsertRate(path: string, n: number): Promise<number> {
  await createSchema(path);
  using db = openDb(path);
  const now = Date.now();
  const start = performance.now();
  db.exec("BEGIN IMMEDIATE");
  const insert = db.prepare(INSERT_JOB);
  for (let i = 0; i < n; i++) {
    const job = benchJob(i);
    insert.run(job.id, job.command, job.priority, now, now, now);
  }
  db.prepare("UPDATE job_counts SET n = n + ? WHERE state = 'pending'").run(n);
  db.exec("COMMIT");
  return n / ((performance.now() - start) / 1000);
}

/** Measures scenario 1. */
export async function benchBatchEnqueue(ctx: BenchContext): Promise<Row[]> {
  if (ctx.store.kind === "postgres") return await benchBatchEnqueuePostgres(ctx);
  const n = ctx.quick ? 10_000 : 100_000;
  await using dir = await tempDir();
  const file = `${dir.path}/jobs.ndjson`;
  await Deno.writeTextFile(file, benchNdjson(n));

  // Baseline first, then the CLI, then the baseline again: keep the better
  // baseline so a noisy neighbour cannot flatter the ratio.
  ctx.log(`${SCENARIO}: raw insert of ${n} rows`);
  const raw1 = await rawInsertRate(`${dir.path}/raw1.db`, n);
  const db = `${dir.path}/queue.db`;
  ctx.log(`${SCENARIO}: ${ctx.cli.label} enqueue --file (${n} jobs)`);
  const result = await runOk(ctx.cli.argv(["enqueue", "--file", file]), { db });
  const raw2 = await rawInsertRate(`${dir.path}/raw2.db`, n);
  using check = openDb(db);
  const pending = jobCounts(check).pending;
  if (pending !== n) {
    throw new Error(`expected ${n} pending jobs after the batch, found ${pending}`);
  }
  const rate = n / (result.ms / 1000);
  return [row({
    scenario: SCENARIO,
    metric: `${n.toLocaleString("en-US")} jobs, whole CLI`,
    figure: rate,
    unit: "jobs/s",
    baseline: Math.max(raw1, raw2),
    baselineLabel: "raw insert",
    // Target: at least 0.7x the raw insert rate of the same rows.
    target: { kind: "ratio_min", value: 0.7 },
    note: `CLI wall ${result.ms.toFixed(0)} ms for ${n} jobs; raw insert runs ${
      Math.round(raw1)
    } and ${Math.round(raw2)} jobs/s`,
  })];
}

/** Scenario 1 on PostgreSQL: the same CLI run against SQLite's figure of this run. */
async function benchBatchEnqueuePostgres(ctx: BenchContext): Promise<Row[]> {
  const { pgRawInsertRate } = await import("./_postgres.ts");
  const n = ctx.quick ? 10_000 : 100_000;
  await using dir = await tempDir();
  const file = `${dir.path}/jobs.ndjson`;
  await Deno.writeTextFile(file, benchNdjson(n));
  const jobs = Array.from({ length: n }, (_, i) => benchJob(i));
  const label = ctx.store.label;

  ctx.log(`${SCENARIO} (${label}): raw insert of ${n} rows`);
  let raw1: number;
  {
    await using raw = await ctx.store.fresh("enqueue_raw1");
    raw1 = await pgRawInsertRate(raw, jobs);
  }
  await using db = await ctx.store.fresh("enqueue");
  ctx.log(`${SCENARIO} (${label}): ${ctx.cli.label} enqueue --file (${n} jobs)`);
  const result = await runOk(ctx.cli.argv(["enqueue", "--file", file]), { db: db.location });
  let raw2: number;
  {
    await using raw = await ctx.store.fresh("enqueue_raw2");
    raw2 = await pgRawInsertRate(raw, jobs);
  }
  const pending = (await db.counts()).pending;
  if (pending !== n) {
    throw new Error(`expected ${n} pending jobs after the batch, found ${pending}`);
  }
  const rate = n / (result.ms / 1000);
  const metric = `${n.toLocaleString("en-US")} jobs, whole CLI`;
  return [
    row({
      scenario: SCENARIO,
      metric,
      figure: rate,
      unit: "jobs/s",
      baseline: figureOf(ctx.sqlite, metric),
      baselineLabel: SQLITE_BASELINE,
      target: { kind: "ratio_min", value: 0.5 },
      note: `CLI wall ${result.ms.toFixed(0)} ms for ${n} jobs on ${label}`,
    }),
    row({
      scenario: SCENARIO,
      metric: `${metric}, vs raw insert`,
      figure: rate,
      unit: "jobs/s",
      baseline: Math.max(raw1, raw2),
      baselineLabel: "raw insert, unnest",
      note: `one INSERT … SELECT FROM unnest(arrays) of the same rows: runs ${
        Math.round(raw1)
      } and ${Math.round(raw2)} jobs/s; no target`,
    }),
  ];
}
