/**
 * Scenario 5: start-up. The whole CLI process (median of several runs) of
 * `queuectl enqueue` of one job, `status`, `list` and `--version`, each
 * against its floor measured in the same rounds (DESIGN.md, "Performance"):
 *
 * - `enqueue` against `bench/floor_insert.ts`, a minimal Deno script that
 *   opens the same store and inserts one job (target: at most 1.15x), and
 *   against `deno run` of an empty file (target: at most 1.3x);
 * - `status` and `list` against `bench/floor_query.ts`, one that opens the
 *   same store and runs one query (target: at most 1.15x).
 *
 * Every command runs once per round, round-robin, so a drift of the shared
 * machine's speed weighs on a figure and its floor alike. With
 * `--store postgres` the same runs go to a PostgreSQL schema, with
 * postgres.js in the floor scripts as in the CLI.
 */
import type { BenchContext } from "./_context.ts";
import { median, ROOT, runOk, tempDir } from "./_process.ts";
import { type Row, row } from "./_result.ts";

const SCENARIO = "5 start-up";

/** Median wall time of `deno run` of an empty file, outside the project (no deno.json). */
export async function emptyDenoRunMs(runs: number): Promise<number> {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/empty.ts`, "");
  const argv = [Deno.execPath(), "run", "-A", `${dir.path}/empty.ts`];
  const times: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const ms = (await runOk(argv, { cwd: dir.path })).ms;
    if (i >= 2) times.push(ms);
  }
  return median(times);
}

/** `deno run -A bench/<script> <db>`, with the project's deno.json, as the CLI runs. */
function floorArgv(script: string, db: string): string[] {
  return [Deno.execPath(), "run", "-A", `${ROOT}/bench/${script}`, db];
}

/** Measures scenario 5. */
export async function benchStartup(ctx: BenchContext): Promise<Row[]> {
  const runs = ctx.quick ? 5 : 15;
  const on = ctx.store.kind === "postgres" ? ` (${ctx.store.label})` : "";
  await using store = await ctx.store.fresh("startup");
  await store.createSchema();
  const db = store.location;
  ctx.log(`${SCENARIO}${on}: ${runs} rounds of empty.ts, floors, --version, enqueue, status, list`);
  const commands = {
    version: ctx.cli.argv(["--version"]),
    enqueue: ctx.cli.argv(["enqueue", '{"command":"true"}']),
    status: ctx.cli.argv(["status"]),
    list: ctx.cli.argv(["list", "--limit", "50"]),
    floorQuery: floorArgv("floor_query.ts", db),
    floorInsert: floorArgv("floor_insert.ts", db),
  };
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, [] as number[]])) as Record<
    keyof typeof commands,
    number[]
  >;
  // Two untimed rounds fill the caches; the enqueues give list rows to show.
  for (let round = 0; round < runs + 2; round++) {
    for (const [key, argv] of Object.entries(commands)) {
      const ms = (await runOk(argv, { db })).ms;
      if (round >= 2) times[key as keyof typeof commands].push(ms);
    }
  }
  const empty = ctx.store.kind === "postgres" ? null : await emptyDenoRunMs(runs);
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<
    keyof typeof commands,
    number
  >;
  const floor = { scenario: SCENARIO, unit: "ms" };
  const note = `median of ${runs} round-robin rounds`;
  const rows: Row[] = [
    row({
      ...floor,
      target: { kind: "ratio_max", value: 1.15 },
      metric: "enqueue one job",
      figure: m.enqueue,
      baseline: m.floorInsert,
      baselineLabel: "floor_insert.ts",
      note: `${note}; floor: a Deno script that opens the store and inserts one job`,
    }),
    row({
      ...floor,
      target: { kind: "ratio_max", value: 1.15 },
      metric: "status",
      figure: m.status,
      baseline: m.floorQuery,
      baselineLabel: "floor_query.ts",
      note: "floor: a Deno script that opens the store and runs one query",
    }),
    row({
      ...floor,
      target: { kind: "ratio_max", value: 1.15 },
      metric: "list --limit 50",
      figure: m.list,
      baseline: m.floorQuery,
      baselineLabel: "floor_query.ts",
    }),
    row({
      scenario: SCENARIO,
      unit: "ms",
      metric: "--version",
      figure: m.version,
      baseline: m.floorQuery,
      baselineLabel: "floor_query.ts",
      note: "no target: the CLI's own start-up beside the query floor",
    }),
  ];
  if (empty !== null) {
    rows.unshift(row({
      scenario: SCENARIO,
      unit: "ms",
      metric: "enqueue one job, vs empty deno run",
      figure: m.enqueue,
      baseline: empty,
      baselineLabel: "empty.ts",
      // Target: at most 1.3x an empty deno run.
      target: { kind: "ratio_max", value: 1.3 },
      note: "baseline: deno run -A of an empty file, outside the project",
    }));
  }
  return rows;
}
