/**
 * Scenario 8: how soon `queuectl wait` returns after its job ends (README.md,
 * "Job flow").
 * One worker (`worker start --count 1`); for each sample a `wait <id>`
 * process is started first and left to settle, then the job is let go (it
 * spins on a gate file) and ends with `exec date +%s%N`, its own end stamp.
 * The figure is from that stamp to the moment `wait` has exited, as this
 * process sees it. Baseline, the same measure for a direct spawn: from the
 * stamp of `sh -c 'exec date +%s%N'` to the moment its parent sees it exit.
 *
 * Between the two: the worker noticing the exit, its write of the result,
 * the wake-up of `wait` (inotify on SQLite, LISTEN/NOTIFY on PostgreSQL),
 * one read, and the `wait` process's own exit.
 */
import type { BenchContext } from "./_context.ts";
import { percentile, run, sleep, spawn, waitFor } from "./_process.ts";
import { figureOf, type Row, row, SQLITE_BASELINE } from "./_result.ts";
import { startWorkers, stopWorkers } from "./_workers.ts";

const SCENARIO = "8 wait";

/** How long a `wait` process is given to start and subscribe before its job is let go. */
const SETTLE_MS = 1500;

const wall = () => performance.timeOrigin + performance.now();

/** The job's end stamp (epoch ns) printed by `exec date +%s%N`, in epoch ms. */
function stampMs(text: string): number {
  const ns = Number(text.trim());
  if (!Number.isFinite(ns) || ns === 0) throw new Error(`no end stamp in "${text.trim()}"`);
  return ns / 1e6;
}

/** Latencies (ms) from a directly spawned `sh -c 'exec date +%s%N'`'s end stamp to its parent seeing it exit. */
export async function directEndLatencies(samples: number): Promise<number[]> {
  const decoder = new TextDecoder();
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const output = await new Deno.Command("sh", {
      args: ["-c", "exec date +%s%N"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    latencies.push(wall() - stampMs(decoder.decode(output.stdout)));
    await sleep(5);
  }
  return latencies;
}

/**
 * Latencies (ms) from a `deno eval` process's last output to its parent
 * seeing it exit: the floor of any Deno CLI, `wait` included.
 */
async function denoExitLatencies(samples: number): Promise<number[]> {
  const decoder = new TextDecoder();
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "console.log(performance.timeOrigin + performance.now())"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    latencies.push(wall() - Number(decoder.decode(output.stdout).trim()));
  }
  return latencies;
}

/** Measures scenario 8. */
export async function benchWait(ctx: BenchContext): Promise<Row[]> {
  const n = ctx.quick ? 5 : 25;
  const pg = ctx.store.kind === "postgres";
  const on = pg ? ` (${ctx.store.label})` : "";
  await using db = await ctx.store.fresh("wait");
  await db.createSchema();
  const gates = await Deno.makeTempDir({ prefix: "queuectl-bench-wait-" });

  ctx.log(`${SCENARIO}${on}: baseline, a direct spawn's end to its parent seeing the exit`);
  const direct = await directEndLatencies(ctx.quick ? 20 : 100);
  const denoExit = await denoExitLatencies(ctx.quick ? 5 : 20);

  const worker = await startWorkers(ctx, db, 1, ctx.quick ? 500 : 1000);
  let stopNote = "";
  const latencies: number[] = [];
  try {
    ctx.log(`${SCENARIO}${on}: ${n} jobs, each with a wait process already waiting`);
    for (let i = 0; i < n; i++) {
      const id = `w-${i}`;
      const gate = `${gates}/${id}`;
      const command = `while [ ! -e '${gate}' ]; do sleep 0.005; done; exec date +%s%N`;
      await run(ctx.cli.argv(["enqueue", JSON.stringify({ id, command })]), { db: db.location });
      const waiter = spawn(ctx.cli.argv(["wait", id, "--timeout", "60s"]), { db: db.location });
      let exitedAt = 0;
      const status = waiter.child.status.then((s) => {
        exitedAt = wall();
        return s;
      });
      await sleep(SETTLE_MS);
      await Deno.writeTextFile(gate, "");
      const { code } = await status;
      if (code !== 0) throw new Error(`wait ${id} exited ${code}: ${waiter.stderr().trim()}`);
      const [runRow] = await db.all(`SELECT stdout FROM runs WHERE job_id = '${id}'`);
      const stdout = runRow?.stdout;
      const text = stdout instanceof Uint8Array
        ? new TextDecoder().decode(stdout)
        : String(stdout ?? "");
      latencies.push(exitedAt - stampMs(text));
      await waitFor(async () => (await db.counts()).completed === i + 1, {
        timeoutMs: 10_000,
        message: `job ${id} completed`,
      });
    }
  } finally {
    stopNote = await stopWorkers(worker);
    await Deno.remove(gates, { recursive: true }).catch(() => {});
  }
  const p = (values: number[], q: number) => percentile(values, q);
  const notes = [
    `${n} jobs; from the job's own end stamp (exec date +%s%N) to the wait process's exit`,
    `max ${Math.max(...latencies).toFixed(1)} ms`,
    `direct p99 ${p(direct, 99).toFixed(2)} ms`,
  ];
  if (stopNote) notes.push(stopNote);
  const rows = [
    row({
      scenario: SCENARIO,
      metric: "wait returns after the job's end p50",
      figure: p(latencies, 50),
      unit: "ms",
      baseline: p(direct, 50),
      baselineLabel: "direct spawn",
      target: { kind: "ratio_max", value: 1.3 },
      note: notes.join("; "),
    }),
    row({
      scenario: SCENARIO,
      metric: "wait returns after the job's end p99",
      figure: p(latencies, 99),
      unit: "ms",
      baseline: p(direct, 99),
      baselineLabel: "direct spawn",
    }),
    row({
      scenario: SCENARIO,
      metric: "a Deno process's exit after its last output p50",
      figure: p(denoExit, 50),
      unit: "ms",
      baseline: p(direct, 50),
      baselineLabel: "direct spawn",
      note: "deno eval printing a stamp, then exiting: the floor under any Deno CLI; no target",
    }),
  ];
  if (!pg) return rows;
  // On PostgreSQL also against SQLite's figure of the same run.
  return [
    ...rows,
    row({
      scenario: SCENARIO,
      metric: "wait returns after the job's end p50, vs SQLite",
      figure: p(latencies, 50),
      unit: "ms",
      baseline: figureOf(ctx.sqlite, "wait returns after the job's end p50"),
      baselineLabel: SQLITE_BASELINE,
    }),
  ];
}
