/**
 * Scenario 3: pickup latency and idle CPU. Four idle workers (`worker start
 * --count 4`); first the CPU they use over a window with nothing to do, then
 * N jobs enqueued one at a time by another process at random gaps, each
 * running `exec date +%s%N`: the latency is from the enqueue's commit to the
 * moment the job's process runs. Baselines: the same latency for the same
 * command spawned directly (no queue) by the enqueuing process after each
 * job has completed, so both series share the minutes, the gaps and the
 * machine's load; and the CPU of an idle Deno process.
 * The claim (the store's `runs.started_at`, in whole milliseconds) shows the
 * queue's own share: the wake-up and the claim, before any process starts.
 *
 * On PostgreSQL (`--store postgres`): the same figures against the SQLite
 * ones of the same run (target: p99 at most 1.5x).
 */
import type { BenchContext } from "./_context.ts";
import { completedCount, type Counted, ownRuns } from "./_completed.ts";
import {
  type Background,
  cpuSeconds,
  percentile,
  ROOT,
  runOk,
  sleep,
  spawn,
  waitFor,
} from "./_process.ts";
import { figureOf, type Row, row, SQLITE_BASELINE } from "./_result.ts";
import type { BenchDb } from "./_store.ts";
import { startWorkers, stopWorkers } from "./_workers.ts";

const SCENARIO = "3 pickup";
const COUNT = 4;

const wall = () => performance.timeOrigin + performance.now();

/** The job's command: the shell becomes `date`, which prints when the job's process runs. */
export const PICKUP_COMMAND = "exec date +%s%N";

const decoder = new TextDecoder();

/** Latency (ms) from just before spawning `sh -c 'exec date +%s%N'` to the time it prints. */
export async function directSpawnLatency(): Promise<number> {
  const before = wall();
  const output = await new Deno.Command("sh", {
    args: ["-c", PICKUP_COMMAND],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return Number(decoder.decode(output.stdout).trim()) / 1e6 - before;
}

/** CPU used by `pids` over `ms`, as a percentage of one core each. */
async function cpuPercent(pids: number[], ms: number): Promise<number[]> {
  const before = pids.map(cpuSeconds);
  const start = performance.now();
  await sleep(ms);
  const elapsed = (performance.now() - start) / 1000;
  return pids.map((pid, i) => ((cpuSeconds(pid) - before[i]!) / elapsed) * 100);
}

/** The pickups of one run of jobs enqueued one at a time. */
export interface Picked<T = undefined> {
  /** Per job, ms from the enqueue's commit to the moment its process ran. */
  latencies: number[];
  /** Per job, ms from the enqueue's commit to its claim (`runs.started_at`, whole ms). */
  claims: number[];
  /** Per job, ms of a direct spawn of the same command (with `direct`); else empty. */
  direct: number[];
  /** Per job, the wall time (epoch ms) of its enqueue's commit, in the order of `latencies`. */
  commits: number[];
  stopNote: string;
  /** What {@linkcode PickupOptions.enqueued} read; `undefined` without it. */
  inspected: T;
}

/** How a scenario runs {@linkcode pickupOnce}. */
export interface PickupOptions<T> {
  /** How long the workers settle after they registered, before anything else. */
  settleMs: number;
  /** Whether the enqueuer also spawns the command directly after each job (the baseline). */
  direct: boolean;
  /** Writes more content after the schema and `ctx.seed`, before the workers start. */
  prepare?(db: BenchDb): Promise<void>;
  /** Puts job `i` in group `g-<i mod groups>` (scenario 10); no group when absent. */
  groups?: number;
  /** Runs once the workers are up, before the first job (scenario 3: the idle CPU). */
  beforeJobs?(worker: Background): Promise<void>;
  /** Reads the database once the last job is enqueued, while the workers run. */
  enqueued?(db: BenchDb): Promise<T>;
  /**
   * How the completed jobs are counted (see {@linkcode Counted}): `jobs` (the
   * default) polls every 20 ms for 30 s at most; `runs` every 100 ms for 60 s.
   */
  counted?: Counted;
}

/**
 * Starts `worker start --count 4` on a fresh database named `name`, then
 * has another process (`bench/_enqueuer.ts`) enqueue `n` jobs running
 * {@linkcode PICKUP_COMMAND} one at a time at 20-120 ms gaps (the same
 * gaps every run), and waits until they have run.
 */
export async function pickupOnce<T = undefined>(
  ctx: BenchContext,
  n: number,
  name: string,
  options: PickupOptions<T>,
): Promise<Picked<T>> {
  const counted = options.counted ?? "jobs";
  await using db = await ctx.store.fresh(name);
  await db.createSchema();
  await ctx.seed?.apply(db);
  await options.prepare?.(db);
  const worker = await startWorkers(ctx, db, COUNT, options.settleMs);
  let stopNote = "";
  let picked: Omit<Picked<T>, "stopNote">;
  try {
    await options.beforeJobs?.(worker);
    const enqueued = JSON.parse(
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
        ...(options.direct ? ["direct"] : []),
        ...(options.groups ? [`groups=${options.groups}`] : []),
      ])).stdout,
    ) as { id: string; before: number; commit: number; direct?: number }[];
    const inspected = (options.enqueued ? await options.enqueued(db) : undefined) as T;
    await waitFor(async () => (await completedCount(db, counted)) === n, {
      ...(counted === "jobs" ? { timeoutMs: 30_000 } : { timeoutMs: 60_000, intervalMs: 100 }),
      message: `${n} completed jobs`,
    });
    const runs = new Map<string, { started_at: number; stdout: string }>();
    for (
      const r of await db.all(`SELECT job_id, started_at, stdout FROM runs ${ownRuns(counted)}`)
    ) {
      runs.set(r.job_id as string, {
        started_at: r.started_at as number,
        stdout: r.stdout instanceof Uint8Array ? decoder.decode(r.stdout) : "",
      });
    }
    picked = { latencies: [], claims: [], direct: [], commits: [], inspected };
    for (const job of enqueued) {
      const run = runs.get(job.id);
      const ran = Number(run?.stdout.trim());
      if (!run || !Number.isFinite(ran) || ran === 0) {
        throw new Error(`job ${job.id} left no start time in its output`);
      }
      picked.latencies.push(ran / 1e6 - job.commit);
      picked.claims.push(run.started_at - job.commit);
      picked.commits.push(job.commit);
      if (job.direct !== undefined) picked.direct.push(job.direct);
    }
  } finally {
    stopNote = await stopWorkers(worker);
  }
  return { ...picked, stopNote };
}

/** Measures scenario 3. */
export async function benchPickup(ctx: BenchContext): Promise<Row[]> {
  const n = ctx.quick ? 30 : 200;
  const idleMs = ctx.quick ? 2000 : 10_000;
  const pg = ctx.store.kind === "postgres";
  const on = pg ? ` (${ctx.store.label})` : "";
  await using idle = spawn([Deno.execPath(), "run", "-A", `${ROOT}/bench/_idle.ts`]);
  let cpu: number[] = [];
  const { latencies, claims, direct, stopNote } = await pickupOnce(ctx, n, "pickup", {
    settleMs: ctx.quick ? 500 : 1000,
    // On PostgreSQL the SQLite run of this scenario is the baseline.
    direct: !pg,
    beforeJobs: async (worker) => {
      ctx.log(
        `${SCENARIO}${on}: idle CPU of worker start --count ${COUNT} over ${idleMs / 1000} s`,
      );
      cpu = await cpuPercent([worker.pid, idle.pid], idleMs);
      ctx.log(`${SCENARIO}${on}: ${n} jobs enqueued one at a time by another process`);
    },
  });
  const p = (values: number[], q: number) => percentile(values, q);
  const common = { scenario: SCENARIO, unit: "ms", baselineLabel: "direct spawn" };
  const notes = [
    `${n} jobs at 20-120 ms gaps; from the enqueue's commit to the job's ${PICKUP_COMMAND}` +
    (pg ? "" : "; a direct spawn after each job's end is the baseline"),
    `max ${Math.max(...latencies).toFixed(1)} ms`,
  ];
  if (stopNote) notes.push(stopNote);
  if (pg) {
    const versus = (metric: string, figure: number, target: number | null, note?: string) =>
      row({
        scenario: SCENARIO,
        metric,
        figure,
        unit: "ms",
        baseline: figureOf(ctx.sqlite, metric),
        baselineLabel: SQLITE_BASELINE,
        target: target === null ? null : { kind: "ratio_max", value: target },
        note,
      });
    return [
      versus("latency p50", p(latencies, 50), null, notes.join("; ")),
      versus("latency p99", p(latencies, 99), 1.5),
      // The claim time is the store's clock: on PostgreSQL the server's, as
      // the worker estimated its offset from one round trip, so these
      // include that estimate's error; no ratio to SQLite's (near zero) figures.
      ...[50, 99].map((q) =>
        row({
          scenario: SCENARIO,
          metric: `claim after commit p${q}`,
          figure: p(claims, q),
          unit: "ms",
          note:
            `SQLite's in this run: ${
              figureOf(ctx.sqlite, `claim after commit p${q}`)?.toFixed(2) ?? "—"
            } ms; runs.started_at is the worker's estimate of the server clock, so this ` +
            "includes the error of its clock-offset estimate",
        })
      ),
      row({
        scenario: SCENARIO,
        metric: `idle CPU, --count ${COUNT}, ${idleMs / 1000} s`,
        figure: cpu[0]!,
        unit: "% core",
        baseline: cpu[1]!,
        baselineLabel: "idle deno",
        target: { kind: "max", value: 1 },
        note: "LISTEN/NOTIFY with a poll as a backstop; utime+stime of /proc/<pid>/stat",
      }),
    ];
  }
  return [
    row({
      ...common,
      metric: "latency p50",
      figure: p(latencies, 50),
      baseline: p(direct, 50),
      // Targets: p50 at most 1.3x, p99 at most 2x a direct spawn of the same command.
      target: { kind: "ratio_max", value: 1.3 },
      note: notes.join("; "),
    }),
    row({
      ...common,
      metric: "latency p99",
      figure: p(latencies, 99),
      baseline: p(direct, 99),
      target: { kind: "ratio_max", value: 2 },
    }),
    row({
      scenario: SCENARIO,
      metric: "claim after commit p50",
      figure: p(claims, 50),
      unit: "ms",
      note: "runs.started_at (whole ms) minus the commit as the enqueuer saw it; no target",
    }),
    row({
      scenario: SCENARIO,
      metric: "claim after commit p99",
      figure: p(claims, 99),
      unit: "ms",
    }),
    row({
      scenario: SCENARIO,
      metric: `idle CPU, --count ${COUNT}, ${idleMs / 1000} s`,
      figure: cpu[0]!,
      unit: "% core",
      baseline: cpu[1]!,
      baselineLabel: "idle deno",
      target: { kind: "max", value: 1 },
      note: "utime+stime of /proc/<pid>/stat, all threads; 10 ms tick resolution",
    }),
  ];
}
