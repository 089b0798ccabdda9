/**
 * Scenario 2: `queuectl worker start --count 4` drains N `true` jobs; the rate
 * from the first claim to the last completion (the runs' own timestamps),
 * against one Deno process spawning `sh -c true` with concurrency 4.
 *
 * On PostgreSQL (`--store postgres`): the same drain against the SQLite
 * figure of the same run (SPEC 8: at least 0.9x).
 */
import type { BenchContext } from "./_context.ts";
import { ROOT, runOk, tempDir, waitFor } from "./_process.ts";
import { figureOf, type Row, row, SQLITE_BASELINE } from "./_result.ts";
import { startWorkers, stopWorkers } from "./_workers.ts";
import { spawnMethod } from "../workers/run_command.ts";

const SCENARIO = "2 drain";
const CONCURRENCY = 4;

/** Rate (jobs/s) at which one Deno process spawns `sh -c true` `n` times, `concurrency` at once. */
export async function spawnBaselineRate(
  n: number,
  concurrency: number,
  mode: "plain" | "setsid" | "detached" = "plain",
): Promise<number> {
  const result = await runOk([
    Deno.execPath(),
    "run",
    "-A",
    `${ROOT}/bench/_spawn_baseline.ts`,
    String(n),
    String(concurrency),
    mode,
  ]);
  const parsed = JSON.parse(result.stdout) as { rate: number; failed: number };
  if (parsed.failed > 0) throw new Error(`${parsed.failed} spawns of sh -c true failed`);
  return parsed.rate;
}

/** Measures scenario 2. */
export async function benchDrain(ctx: BenchContext): Promise<Row[]> {
  const n = ctx.quick ? 500 : 5000;
  const pg = ctx.store.kind === "postgres";
  const on = pg ? ` (${ctx.store.label})` : "";
  await using dir = await tempDir();
  await using db = await ctx.store.fresh("drain");
  const file = `${dir.path}/jobs.ndjson`;
  const lines = Array.from(
    { length: n },
    (_, i) => JSON.stringify({ id: `d-${i}`, command: "true" }),
  );
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  await db.createSchema();
  await ctx.seed?.apply(db);
  await runOk(ctx.cli.argv(["enqueue", "--file", file]), { db: db.location });

  // On PostgreSQL the SQLite run of this scenario is the baseline: one
  // spawn baseline afterwards only shows whether the machine drifted.
  let base1 = NaN;
  if (!pg) {
    ctx.log(`${SCENARIO}: baseline, sh -c true x ${n} at concurrency ${CONCURRENCY}`);
    base1 = await spawnBaselineRate(n, CONCURRENCY);
  }

  ctx.log(`${SCENARIO}${on}: worker start --count ${CONCURRENCY} on ${n} jobs`);
  const spawned = performance.now();
  const worker = await startWorkers(ctx, db, CONCURRENCY, 0);
  let stopNote: string;
  let wallMs: number;
  try {
    await waitFor(async () => (await db.counts()).completed === n, {
      timeoutMs: Math.max(60_000, n * 20),
      intervalMs: 50,
      message: `${n} completed jobs (worker stderr: ${worker.stderr().trim().slice(-200)})`,
    });
    wallMs = performance.now() - spawned;
  } finally {
    stopNote = await stopWorkers(worker);
  }
  const [span] = await db.all(
    `SELECT min(started_at) AS first, max(finished_at) AS last, count(*) AS runs,
       count(*) FILTER (WHERE outcome = 'succeeded') AS ok FROM runs`,
  );
  const ms = (span!.last as number) - (span!.first as number);
  if (span!.ok !== n || span!.runs !== n) {
    throw new Error(`expected ${n} succeeded runs, found ${span!.ok} of ${span!.runs}`);
  }
  ctx.log(`${SCENARIO}${on}: baseline again`);
  const base2 = await spawnBaselineRate(n, CONCURRENCY);
  const rate = n / (Math.max(ms, 1) / 1000);
  const metric = `${n.toLocaleString("en-US")} true jobs, --count ${CONCURRENCY}`;
  const drained = `${n} jobs drained in ${ms} ms (first claim to last completion); ${
    Math.round(n / (wallMs / 1000))
  } jobs/s counting worker start-up`;
  if (pg) {
    return [
      row({
        scenario: SCENARIO,
        metric,
        figure: rate,
        unit: "jobs/s",
        baseline: figureOf(ctx.sqlite, metric),
        baselineLabel: SQLITE_BASELINE,
        target: { kind: "ratio_min", value: 0.9 },
        note: [drained, stopNote].filter(Boolean).join("; "),
      }),
      row({
        scenario: SCENARIO,
        metric: `${metric}, vs sh -c true`,
        figure: rate,
        unit: "jobs/s",
        baseline: base2,
        baselineLabel: `sh -c true x${CONCURRENCY}`,
        note: "the spawn baseline run once, after this drain; no target",
      }),
    ];
  }
  const setsid = await spawnBaselineRate(n, CONCURRENCY, "setsid");
  const notes = [
    drained,
    `jobs started by ${
      spawnMethod() === "ffi" ? "posix_spawn + SETSID (FFI), one exec" : spawnMethod()
    }`,
    `baseline runs ${Math.round(base1)} and ${Math.round(base2)} jobs/s (the higher is used)`,
  ];
  if (stopNote) notes.push(stopNote);
  return [
    row({
      scenario: SCENARIO,
      metric,
      figure: rate,
      unit: "jobs/s",
      baseline: Math.max(base1, base2),
      baselineLabel: `sh -c true x${CONCURRENCY}`,
      target: { kind: "ratio_min", value: 0.85 },
      note: notes.join("; "),
    }),
    row({
      scenario: SCENARIO,
      metric: `${metric}, vs setsid`,
      figure: rate,
      unit: "jobs/s",
      baseline: setsid,
      baselineLabel: `setsid sh -c true x${CONCURRENCY}`,
      note: "the same drain against spawning with setsid(1), the extra exec the fallback " +
        "uses to give each job its own session where FFI is not allowed; no target",
    }),
  ];
}
