/**
 * Scenario 5: `queuectl enqueue` of one job and `queuectl --version`, the
 * whole CLI process (median of several runs), against `deno run` of an empty
 * file: the cost of starting Deno itself.
 */
import type { BenchContext } from "./_context.ts";
import { median, tempDir, wallTimes } from "./_process.ts";
import { type Row, row } from "./_result.ts";

const SCENARIO = "5 start-up";

/** Median wall time of `deno run` of an empty file, outside the project (no deno.json). */
export async function emptyDenoRunMs(runs: number): Promise<number> {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/empty.ts`, "");
  const argv = [Deno.execPath(), "run", "-A", `${dir.path}/empty.ts`];
  return median(await wallTimes(argv, runs, { cwd: dir.path, warmup: 2 }));
}

/** Measures scenario 5. */
export async function benchStartup(ctx: BenchContext): Promise<Row[]> {
  const runs = ctx.quick ? 5 : 15;
  await using dir = await tempDir();
  const db = `${dir.path}/queue.db`;
  ctx.log(`${SCENARIO}: ${runs} runs each of deno run empty.ts, --version, enqueue`);
  const empty = await emptyDenoRunMs(runs);
  const version = median(await wallTimes(ctx.cli.argv(["--version"]), runs, { db, warmup: 2 }));
  // The first enqueue creates the database; the warm-up runs take that cost.
  const enqueue = median(
    await wallTimes(ctx.cli.argv(["enqueue", '{"command":"true"}']), runs, { db, warmup: 2 }),
  );
  const common = { scenario: SCENARIO, unit: "ms", baseline: empty, baselineLabel: "empty.ts" };
  return [
    row({
      ...common,
      metric: "enqueue one job",
      figure: enqueue,
      // Target: at most 1.3x an empty deno run.
      target: { kind: "ratio_max", value: 1.3 },
      note:
        `median of ${runs} runs on an existing database; baseline: deno run -A of an empty file`,
    }),
    row({ ...common, metric: "--version", figure: version }),
  ];
}
