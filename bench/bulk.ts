/**
 * Scenario 11: claims during a bulk cancel (README "Operating a queue").
 * 100,000 pending jobs tagged `batch7` wait in a queue of their own; four
 * workers serve `default` (`worker start --count 4 --queue default`), and
 * jobs are enqueued there one at a time as in scenario 3. The pickup
 * latency is measured twice in the same run: idle (the 100,000 jobs just
 * sit there), then while `cancel --state pending --tag batch7` works
 * through them in batches (a retry by filter puts them back between two
 * cancels, so the jobs meet several). Only the jobs committed while a
 * cancel ran count for the second figure. Target: its p99 at most 2x the
 * idle p99.
 */
import type { BenchContext } from "./_context.ts";
import { percentile, ROOT, runOk, tempDir } from "./_process.ts";
import { pickupOnce } from "./pickup.ts";
import { type Row, row } from "./_result.ts";
import type { BenchDb } from "./_store.ts";

const SCENARIO = "11 bulk cancel";
const wall = () => performance.timeOrigin + performance.now();

/** Writes `n` pending jobs tagged batch7 in queue `bulk`, through the CLI's batch enqueue. */
async function seedBulk(ctx: BenchContext, db: BenchDb, n: number): Promise<void> {
  await using dir = await tempDir();
  const file = `${dir.path}/bulk.ndjson`;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      `{"id":"bulk-${i}","command":"true","queue":"bulk","tags":["batch7","nightly"]}`,
    );
  }
  await Deno.writeTextFile(file, lines.join("\n"));
  await runOk(ctx.cli.argv(["enqueue", "--file", file]), { db: db.location });
}

/** Runs `queuectl <args>` on `location`; the wall times around it and its stdout. */
async function timed(ctx: BenchContext, location: string, args: string[]) {
  const argv = ctx.cli.argv(args);
  const started = wall();
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env: { NO_COLOR: "1", QUEUECTL_DB: location },
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ended = wall();
  const decoder = new TextDecoder();
  if (out.code !== 0) {
    throw new Error(`${args.join(" ")} exited ${out.code}: ${decoder.decode(out.stderr).trim()}`);
  }
  return { started, ended, stdout: decoder.decode(out.stdout) };
}

/**
 * While `running()`: cancels every pending batch7 job by filter (a measured
 * window), then puts them back with a retry by filter (not measured), and
 * again, so the jobs enqueued one at a time meet several bulk cancels.
 */
async function cancelLoop(
  ctx: BenchContext,
  location: string,
  running: () => boolean,
): Promise<{ windows: [number, number][]; counts: number[] }> {
  const windows: [number, number][] = [];
  const counts: number[] = [];
  while (running()) {
    const cancel = await timed(ctx, location, [
      "cancel",
      "--state",
      "pending",
      "--tag",
      "batch7",
      "--json",
    ]);
    windows.push([cancel.started, cancel.ended]);
    counts.push(JSON.parse(cancel.stdout).count as number);
    if (!running()) break;
    await timed(ctx, location, ["retry", "--state", "cancelled", "--tag", "batch7"]);
  }
  return { windows, counts };
}

/** Measures scenario 11. */
export async function benchBulk(ctx: BenchContext): Promise<Row[]> {
  const total = ctx.quick ? 10_000 : 100_000;
  const n = ctx.quick ? 40 : 200;
  const on = ctx.store.kind === "postgres" ? ` (${ctx.store.label})` : "";
  const seeded: BenchContext = {
    ...ctx,
    seed: { apply: (db) => seedBulk(ctx, db, total), workerArgs: ["--queue", "default"] },
  };
  ctx.log(`${SCENARIO}${on}: idle pickup beside ${total} pending jobs`);
  const idle = await pickupOnce(seeded, n, "bulk-idle", { settleMs: 1000, direct: false });

  ctx.log(
    `${SCENARIO}${on}: pickup while cancel --state pending --tag batch7 runs, again and again`,
  );
  let location = "";
  let running = true;
  let loop: ReturnType<typeof cancelLoop> | null = null;
  const busy = await pickupOnce(seeded, n, "bulk-busy", {
    settleMs: 1000,
    direct: false,
    prepare: (db) => {
      location = db.location;
      return Promise.resolve();
    },
    beforeJobs: () => {
      loop = cancelLoop(ctx, location, () => running);
      return Promise.resolve();
    },
    // The last cancel or retry ends before the database goes (PostgreSQL drops its schema).
    enqueued: async () => {
      running = false;
      return await (loop as ReturnType<typeof cancelLoop> | null)!;
    },
  });
  const { windows, counts } = busy.inspected;
  // Only the jobs committed while a cancel ran (its process start included).
  const during = busy.latencies.filter((_, i) =>
    windows.some(([from, to]) => busy.commits[i]! >= from && busy.commits[i]! <= to)
  );
  const seconds = windows.map(([from, to]) => (to - from) / 1000);
  const mean = seconds.reduce((a, b) => a + b, 0) / Math.max(1, seconds.length);
  const p = (values: number[], q: number) => values.length ? percentile(values, q) : NaN;
  const note = `${windows.length} bulk cancels of ${total} pending jobs (batches of 500) by ` +
    `another process, each put back by a retry by filter between them (${counts.join(", ")} ` +
    `cancelled); ${during.length} of ${n} jobs enqueued one at a time committed while a cancel ` +
    `ran; idle: the same workers and jobs beside the same ${total} pending jobs, no cancel`;
  return [
    row({
      scenario: SCENARIO,
      metric: "pickup p50 during bulk cancel",
      figure: p(during, 50),
      unit: "ms",
      baseline: p(idle.latencies, 50),
      baselineLabel: "idle, same run",
      target: null,
      note,
    }),
    row({
      scenario: SCENARIO,
      metric: "pickup p99 during bulk cancel",
      figure: p(during, 99),
      unit: "ms",
      baseline: p(idle.latencies, 99),
      baselineLabel: "idle, same run",
      target: { kind: "ratio_max", value: 2 },
    }),
    row({
      scenario: SCENARIO,
      metric: `bulk cancel of ${total} jobs`,
      figure: mean,
      unit: "s",
      note: `mean of ${seconds.length}: ${Math.round(total / mean)} jobs/s, CLI start-up included`,
    }),
  ];
}
