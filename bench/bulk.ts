/**
 * Scenario 10: claims during a bulk cancel (README "Operating a queue").
 * 100,000 pending jobs tagged `batch7` wait in a queue of their own; four
 * workers serve `default` (`worker start --count 4 --queue default`), and
 * jobs are enqueued there one at a time as in scenario 3. The pickup
 * latency is measured twice in the same run: idle (the 100,000 jobs just
 * sit there), then while `cancel --state pending --tag batch7` works
 * through them in batches. Only the jobs committed while the cancel ran
 * count for the second figure. Target: its p99 at most 2x the idle p99.
 */
import type { BenchContext } from "./_context.ts";
import { percentile, ROOT, runOk, tempDir } from "./_process.ts";
import { pickupOnce } from "./pickup.ts";
import { type Row, row } from "./_result.ts";
import type { BenchDb } from "./_store.ts";

const SCENARIO = "10 bulk cancel";
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

/** A background `cancel --state pending --tag batch7 --json`: when it ran and what it said. */
interface Cancel {
  started: number;
  done: Promise<{ ended: number; count: number }>;
}

function startCancel(ctx: BenchContext, location: string): Cancel {
  const argv = ctx.cli.argv(["cancel", "--state", "pending", "--tag", "batch7", "--json"]);
  const started = wall();
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env: { NO_COLOR: "1", QUEUECTL_DB: location },
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const done = child.output().then((out) => {
    const ended = wall();
    if (out.code !== 0) {
      throw new Error(`cancel exited ${out.code}: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    return { ended, count: JSON.parse(new TextDecoder().decode(out.stdout)).count as number };
  });
  return { started, done };
}

/** Measures scenario 10. */
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

  ctx.log(`${SCENARIO}${on}: pickup while cancel --state pending --tag batch7 runs`);
  let location = "";
  let cancel: Cancel | null = null;
  const busy = await pickupOnce(seeded, n, "bulk-busy", {
    settleMs: 1000,
    direct: false,
    prepare: (db) => {
      location = db.location;
      return Promise.resolve();
    },
    beforeJobs: () => {
      cancel = startCancel(ctx, location);
      return Promise.resolve();
    },
  });
  const started = (cancel as Cancel | null)!.started;
  const { ended, count } = await (cancel as Cancel | null)!.done;
  // Only the jobs committed while the cancel ran (its process start included).
  const during = busy.latencies.filter((_, i) =>
    busy.commits[i]! >= started && busy.commits[i]! <= ended
  );
  const p = (values: number[], q: number) => values.length ? percentile(values, q) : NaN;
  const note = `${total} pending jobs cancelled in batches of 500 by another process ` +
    `(${count} cancelled in ${((ended - started) / 1000).toFixed(1)} s); ` +
    `${during.length} of ${n} jobs enqueued one at a time committed while it ran; ` +
    "the idle figure: the same workers and jobs beside the same 100,000 pending jobs, no cancel";
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
      figure: (ended - started) / 1000,
      unit: "s",
      note: `${Math.round(count / ((ended - started) / 1000))} jobs/s, CLI start-up included`,
    }),
  ];
}
