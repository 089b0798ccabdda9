/**
 * Scenario 2: `queuectl worker start --count 4` drains N `true` jobs; the rate
 * from the first claim to the last completion (the runs' own timestamps),
 * against one Deno process spawning `sh -c true` with concurrency 4, run
 * before and after each drain (three drains in a full run; see
 * {@linkcode benchDrain}).
 *
 * On PostgreSQL (`--store postgres`): the same drain against the SQLite
 * figure of the same run (target: at least 0.9x).
 */
import type { BenchContext } from "./_context.ts";
import { ROOT, runOk, tempDir, waitFor } from "./_process.ts";
import { figureOf, type Row, row, SQLITE_BASELINE } from "./_result.ts";
import type { BenchDb } from "./_store.ts";
import { startWorkers, stopWorkers } from "./_workers.ts";
import { completedCount, type Counted, ownRuns } from "./_completed.ts";
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

/** Jobs a drain runs: 5,000, or 500 with `--quick`. */
export function drainJobs(ctx: BenchContext): number {
  return ctx.quick ? 500 : 5000;
}

/** The drain row's metric, shared by the scenarios that compare drains. */
export function drainMetric(n: number): string {
  return `${n.toLocaleString("en-US")} true jobs, --count ${CONCURRENCY}`;
}

/** One drain of `n` jobs on a fresh database. */
export interface Drained<T = undefined> {
  /** Jobs/s from the first claim to the last completion. */
  rate: number;
  note: string;
  stopNote: string;
  /** What {@linkcode DrainOptions.inspect} read; `undefined` without it. */
  inspected: T;
}

/** What a scenario other than 2 changes in a drain (scenario 7: old jobs to prune beside it). */
export interface DrainOptions<T> {
  /** Writes more content after the schema and `ctx.seed`, before the drain's jobs are enqueued. */
  prepare?(db: BenchDb): Promise<void>;
  /**
   * How the drain's completed jobs are counted (see {@linkcode Counted}):
   * `jobs` (the default) polls every 50 ms; `runs` every 100 ms, with a
   * longer timeout, since a count of runs costs more and a pruner slows the drain.
   */
  counted?: Counted;
  /** Reads the database once the workers have stopped, before it is removed. */
  inspect?(db: BenchDb): Promise<T>;
  /** More fields of job `i` (scenario 10: its group); none when absent. */
  fields?(i: number): Record<string, unknown>;
}

/**
 * Drains `n` `true` jobs with `worker start --count 4` on a fresh database
 * named `name`; checks that each ran once and succeeded.
 */
export async function drainOnce<T = undefined>(
  ctx: BenchContext,
  n: number,
  name: string,
  options: DrainOptions<T> = {},
): Promise<Drained<T>> {
  const counted = options.counted ?? "jobs";
  await using dir = await tempDir();
  await using db = await ctx.store.fresh(name);
  const file = `${dir.path}/jobs.ndjson`;
  const lines = Array.from(
    { length: n },
    (_, i) => JSON.stringify({ id: `d-${i}`, command: "true", ...options.fields?.(i) }),
  );
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  await db.createSchema();
  await ctx.seed?.apply(db);
  await options.prepare?.(db);
  await runOk(ctx.cli.argv(["enqueue", "--file", file]), { db: db.location });

  const spawned = performance.now();
  const worker = await startWorkers(ctx, db, CONCURRENCY, 0);
  let stopNote: string;
  let wallMs: number;
  try {
    const poll = counted === "jobs"
      ? { timeoutMs: Math.max(60_000, n * 20), intervalMs: 50 }
      : { timeoutMs: Math.max(120_000, n * 100), intervalMs: 100 };
    await waitFor(async () => (await completedCount(db, counted)) === n, {
      ...poll,
      message: `${n} completed jobs (worker stderr: ${worker.stderr().trim().slice(-200)})`,
    });
    wallMs = performance.now() - spawned;
  } finally {
    stopNote = await stopWorkers(worker);
  }
  const [span] = await db.all(
    `SELECT min(started_at) AS first, max(finished_at) AS last, count(*) AS runs,
       count(*) FILTER (WHERE outcome = 'succeeded') AS ok FROM runs ${ownRuns(counted)}`,
  );
  const ms = (span!.last as number) - (span!.first as number);
  if (span!.ok !== n || span!.runs !== n) {
    throw new Error(`expected ${n} succeeded runs, found ${span!.ok} of ${span!.runs}`);
  }
  return {
    rate: n / (Math.max(ms, 1) / 1000),
    note: `${n} jobs drained in ${ms} ms (first claim to last completion); ${
      Math.round(n / (wallMs / 1000))
    } jobs/s counting worker start-up`,
    stopNote,
    inspected: (options.inspect ? await options.inspect(db) : undefined) as T,
  };
}

/**
 * Measures scenario 2. On SQLite the drain runs three times (once with
 * `--quick`) between spawn baselines (B D B D B D B): each drain is set against the mean of
 * the baselines on either side of it, so a drift of the machine's speed
 * moves both alike, and the round with the median ratio is the row.
 */
export async function benchDrain(ctx: BenchContext): Promise<Row[]> {
  const rounds = ctx.quick ? 1 : 3;
  const n = drainJobs(ctx);
  const pg = ctx.store.kind === "postgres";
  const on = pg ? ` (${ctx.store.label})` : "";
  const metric = drainMetric(n);
  const baseline = () => {
    ctx.log(`${SCENARIO}: baseline, sh -c true x ${n} at concurrency ${CONCURRENCY}`);
    return spawnBaselineRate(n, CONCURRENCY);
  };

  if (pg) {
    // The SQLite run of this scenario is the baseline: one spawn baseline
    // afterwards only shows whether the machine drifted.
    ctx.log(`${SCENARIO}${on}: worker start --count ${CONCURRENCY} on ${n} jobs`);
    const drained = await drainOnce(ctx, n, "drain");
    const base = await baseline();
    return [
      row({
        scenario: SCENARIO,
        metric,
        figure: drained.rate,
        unit: "jobs/s",
        baseline: figureOf(ctx.sqlite, metric),
        baselineLabel: SQLITE_BASELINE,
        target: { kind: "ratio_min", value: 0.9 },
        note: [drained.note, drained.stopNote].filter(Boolean).join("; "),
      }),
      row({
        scenario: SCENARIO,
        metric: `${metric}, vs sh -c true`,
        figure: drained.rate,
        unit: "jobs/s",
        baseline: base,
        baselineLabel: `sh -c true x${CONCURRENCY}`,
        note: "the spawn baseline run once, after this drain; no target",
      }),
    ];
  }

  const baselines = [await baseline()];
  const drains: Drained[] = [];
  for (let round = 1; round <= rounds; round++) {
    ctx.log(
      `${SCENARIO}: worker start --count ${CONCURRENCY} on ${n} jobs (round ${round} of ${rounds})`,
    );
    drains.push(await drainOnce(ctx, n, `drain-${round}`));
    baselines.push(await baseline());
  }
  const around = (i: number) => (baselines[i]! + baselines[i + 1]!) / 2;
  const ratios = drains.map((d, i) => d.rate / around(i));
  const byRatio = ratios.map((_, i) => i).sort((a, b) => ratios[a]! - ratios[b]!);
  const shown = byRatio[Math.floor((rounds - 1) / 2)]!;
  const drained = drains[shown]!;
  const rate = drained.rate;
  const setsid = await spawnBaselineRate(n, CONCURRENCY, "setsid");
  const notes = [
    drained.note,
    `jobs started by ${
      spawnMethod() === "ffi" ? "posix_spawn + SETSID (FFI), one exec" : spawnMethod()
    }`,
    rounds === 1
      ? `baselines ${baselines.map(Math.round).join(" and ")} jobs/s, their mean used`
      : `round ${shown + 1} of ${rounds} shown (median ratio); drains ${
        drains.map((d) => Math.round(d.rate)).join(", ")
      } jobs/s, each against the mean of the baselines around it (${
        baselines.map(Math.round).join(", ")
      }): ${ratios.map((r) => r.toFixed(2) + "x").join(", ")}`,
    ...drains.map((d) => d.stopNote).filter(Boolean),
  ];
  return [
    row({
      scenario: SCENARIO,
      metric,
      figure: rate,
      unit: "jobs/s",
      baseline: around(shown),
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
