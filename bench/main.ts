/**
 * `deno task bench`: measures every performance target beside a baseline
 * measured in the same run (DESIGN.md, "Performance"), prints one table, and
 * writes it as JSON to `bench/results.json` (and to `--out FILE`).
 *
 * Flags: `--quick` (smaller sizes, about a minute: a smoke check),
 * `--out FILE`, `--only KEY[,KEY...]` (enqueue, drain, pickup, large-db,
 * startup, rss, retention, wait, schedules, flow, bulk, events),
 * `--store sqlite|postgres`, `--help`.
 *
 * `--store postgres` runs the batch enqueue, drain, pickup, large database,
 * start-up, retention, wait, flow control, bulk cancel and event log
 * scenarios on SQLite and, right after each, on PostgreSQL (DESIGN.md,
 * "PostgreSQL"), in rows whose baseline is the SQLite figure of the same run
 * (the event log's: PostgreSQL without its event triggers). The server is `QUEUECTL_BENCH_PG_URL` (or
 * `QUEUECTL_TEST_PG_URL`), or a throwaway cluster started and removed by the
 * run (`bench/_postgres.ts`); without one the run says why in one line and
 * exits 2.
 *
 * Exit code: 0 when every scenario ran, whether or not its targets are met
 * (a benchmark is never a test); 1 when a scenario could not run (the CLI
 * failed, a worker never came up) or the harness broke; 2 on bad flags.
 *
 * Each scenario first waits (30 s at most; 2 s with `--quick`) for the
 * machine to be quiet, and its rows say so when it was not, or when other
 * processes used the machine while it ran. Two profilers explain the
 * figures: `bench/startup_profile.ts` (what each import costs at start-up)
 * and `bench/enqueue_profile.ts` (a batch enqueue phase by phase).
 */
import { benchBatchEnqueue } from "./batch_enqueue.ts";
import type { BenchContext, Scenario } from "./_context.ts";
import { benchDrain } from "./drain.ts";
import { benchEvents } from "./events.ts";
import { benchFlow } from "./flow.ts";
import { benchLargeDb } from "./large_db.ts";
import { benchPickup } from "./pickup.ts";
import {
  binaryRunner,
  type CliRunner,
  cpuSnapshot,
  denoRunner,
  otherLoad,
  ROOT,
  waitQuiet,
} from "./_process.ts";
import { errorRow, type Row } from "./_result.ts";
import { benchSchedules } from "./schedules.ts";
import { benchBulk } from "./bulk.ts";
import { benchStartup } from "./startup.ts";
import { sqliteProvider, type StoreProvider } from "./_store.ts";
import { formatTable } from "./_table.ts";
import { benchWait } from "./wait.ts";
import { benchWorkerRss } from "./worker_rss.ts";
import { benchRetention } from "./retention.ts";

/** Every scenario, in the order of its number, which each row's scenario name starts with. */
export const SCENARIOS: readonly Scenario[] = [
  { key: "enqueue", name: "1 batch enqueue", run: benchBatchEnqueue, postgres: true },
  { key: "drain", name: "2 drain", run: benchDrain, postgres: true },
  { key: "pickup", name: "3 pickup", run: benchPickup, postgres: true },
  { key: "large-db", name: "4 large database", run: benchLargeDb, postgres: true },
  { key: "startup", name: "5 start-up", run: benchStartup, postgres: true },
  { key: "rss", name: "6 worker RSS", run: benchWorkerRss },
  { key: "retention", name: "7 retention", run: benchRetention, postgres: true },
  { key: "wait", name: "8 wait", run: benchWait, postgres: true },
  { key: "schedules", name: "9 schedules", run: benchSchedules },
  { key: "flow", name: "10 flow control", run: benchFlow, postgres: true },
  { key: "bulk", name: "11 bulk cancel", run: benchBulk, postgres: true },
  { key: "events", name: "12 event log", run: benchEvents, postgres: true },
];

/** Where a compiled binary from `deno task compile` would be. */
const BINARY = `${ROOT}/dist/queuectl`;

/** Parsed command line of the benchmark. */
export interface BenchArgs {
  quick: boolean;
  out: string | null;
  only: string[] | null;
  store: "sqlite" | "postgres";
  help: boolean;
}

/** Parses the flags; throws on anything unknown. */
export function parseArgs(args: string[]): BenchArgs {
  const parsed: BenchArgs = { quick: false, out: null, only: null, store: "sqlite", help: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined || v === "") throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--quick") parsed.quick = true;
    else if (flag === "--out") parsed.out = value();
    else if (flag === "--only") parsed.only = value().split(",").map((s) => s.trim());
    else if (flag === "--store") {
      const store = value();
      if (store !== "sqlite" && store !== "postgres") {
        throw new Error(`unknown store "${store}"; use: sqlite, postgres`);
      }
      parsed.store = store;
    } else if (flag === "-h" || flag === "--help") parsed.help = true;
    else throw new Error(`unknown flag "${arg}"`);
  }
  const keys = SCENARIOS.map((s) => s.key);
  for (const key of parsed.only ?? []) {
    if (!keys.includes(key)) throw new Error(`unknown scenario "${key}"; use: ${keys.join(", ")}`);
  }
  return parsed;
}

const USAGE = `usage: deno task bench [--quick] [--out FILE] [--only ${
  SCENARIOS.map((s) => s.key).join(",")
}] [--store sqlite|postgres]`;

/** The suffix of the rows measured on PostgreSQL. */
const ON_POSTGRES = " (PostgreSQL)";

/**
 * Runs the chosen scenarios with one CLI runner; a failing scenario becomes
 * an error row. With `postgres`, each scenario that has a PostgreSQL half
 * runs it right after its SQLite half, with the SQLite rows as baselines.
 */
async function runAll(
  scenarios: readonly Scenario[],
  ctx: BenchContext,
  suffix: string,
  postgres: StoreProvider | null,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const scenario of scenarios) {
    const sqlite = await runOne(scenario, ctx);
    rows.push(...sqlite.map((r) => ({ ...r, scenario: r.scenario + suffix })));
    if (postgres && scenario.postgres) {
      const pg = await runOne(scenario, { ...ctx, store: postgres, sqlite }, ON_POSTGRES);
      rows.push(...pg.map((r) => ({ ...r, scenario: r.scenario + ON_POSTGRES + suffix })));
    }
  }
  return rows;
}

/** Runs one scenario once the machine is quiet; notes when it was not. */
async function runOne(scenario: Scenario, ctx: BenchContext, on = ""): Promise<Row[]> {
  const busy = await waitQuiet(ctx.quick ? 2000 : 30_000);
  const start = performance.now();
  // The store's own server (PostgreSQL's processes) is part of the scenario.
  const snapshot = () => {
    const cpu = cpuSnapshot();
    return { ...cpu, own: cpu.own + (ctx.store.serverTicks?.() ?? 0) };
  };
  const before = snapshot();
  let result: Row[];
  try {
    result = await scenario.run(ctx);
  } catch (error) {
    result = [errorRow(scenario.name, "could not run", error)];
  }
  const others = otherLoad(before, snapshot());
  ctx.log(`${scenario.name}${on}: done in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  const warnings: string[] = [];
  if (busy >= 0.1) warnings.push(`machine ${Math.round(busy * 100)}% busy before this scenario`);
  if (others >= 0.05) {
    warnings.push(`other processes used ${Math.round(others * 100)}% of the machine meanwhile`);
  }
  if (warnings.length > 0) {
    const warning = warnings.join("; ");
    result = result.map((r) => ({ ...r, note: r.note ? `${r.note}; ${warning}` : warning }));
  }
  return result;
}

async function machine() {
  let cpu = "unknown";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1] ?? cpu;
  } catch { /* not Linux */ }
  return {
    cores: navigator.hardwareConcurrency,
    cpu,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    load_before: Deno.loadavg(),
  };
}

/** Runs the benchmark; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const started = new Date();
  const begin = performance.now();
  const log = (message: string) => console.error(`bench: ${message}`);
  const scenarios = SCENARIOS.filter((s) => !args.only || args.only.includes(s.key));
  await using server = args.store === "postgres" ? await postgresServer(log) : null;
  if (server === undefined) return 2;
  const host = await machine();
  const runners: { cli: CliRunner; suffix: string }[] = [{ cli: denoRunner(), suffix: "" }];
  let compiled: string;
  try {
    await Deno.stat(BINARY);
    runners.push({ cli: binaryRunner(BINARY), suffix: " (compiled)" });
    compiled = `measured too: rows marked (compiled) run ${BINARY}`;
  } catch {
    compiled =
      "not measured: dist/queuectl does not exist (deno task compile cannot download the denort runtime on this machine)";
  }
  log(
    `${args.quick ? "quick" : "full"} run of ${scenarios.length} scenarios on ${host.cores} cores${
      server ? `, on SQLite and ${server.origin}` : ""
    }`,
  );
  const rows: Row[] = [];
  for (const [i, { cli, suffix }] of runners.entries()) {
    const ctx: BenchContext = { quick: args.quick, cli, log, store: sqliteProvider, sqlite: null };
    // PostgreSQL is measured with the first runner only (deno run).
    rows.push(...await runAll(scenarios, ctx, suffix, i === 0 ? server?.provider ?? null : null));
  }
  const seconds = (performance.now() - begin) / 1000;
  const report = {
    date: started.toISOString(),
    mode: args.quick ? "quick" : "full",
    cli: runners.map((r) => r.cli.label),
    compiled_binary: compiled,
    ...(server ? { postgres: server.origin } : {}),
    machine: host,
    seconds: Math.round(seconds * 10) / 10,
    rows,
  };
  console.log(formatTable(rows));
  console.log(`\nCLI run as: ${runners[0]!.cli.label}; compiled binary: ${compiled}`);
  if (server) console.log(`PostgreSQL: ${server.origin}`);
  console.log(
    `machine: ${host.cores} cores, ${host.cpu}, deno ${host.deno}; ${report.mode} run took ${report.seconds} s`,
  );
  const json = JSON.stringify(report, null, 2) + "\n";
  await Deno.writeTextFile(`${ROOT}/bench/results.json`, json);
  if (args.out) await Deno.writeTextFile(args.out, json);
  const errors = rows.filter((r) => r.figure === null).length;
  const missed = rows.filter((r) => r.met === false).length;
  console.log(
    `${rows.length - errors} figures, ${missed} target${
      missed === 1 ? "" : "s"
    } missed, ${errors} error${errors === 1 ? "" : "s"}`,
  );
  return errors > 0 ? 1 : 0;
}

/**
 * The PostgreSQL server of `--store postgres`, or `undefined` (after saying
 * why in one line) when none can be had.
 */
async function postgresServer(
  log: (message: string) => void,
): Promise<import("./_postgres.ts").BenchServer | undefined> {
  const { openServer } = await import("./_postgres.ts");
  try {
    return await openServer(log);
  } catch (error) {
    console.error(`error: --store postgres: ${(error as Error).message}`);
    return undefined;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
