/**
 * Scenario 4: `status` and `list --state pending --limit 50` on a database of
 * a million jobs across all states, each the whole CLI process, against
 * `queuectl --version` (the CLI's own start-up), and against
 * `bench/floor_query.ts` on the same database (one query: the floor).
 *
 * On PostgreSQL (`--store postgres`): the same database built there (see
 * `pgBuildLargeDb`), `status` and `list` against the SQLite figures of the
 * same run (no target: the ratio is shown) and against `--version` (target:
 * at most 1.15x).
 */
import type { BenchContext } from "./_context.ts";
import { createSchema, jobCounts, openDb } from "./_db.ts";
import { median, ROOT, runOk, tempDir, wallTimes } from "./_process.ts";
import { figureOf, type Row, row, SQLITE_BASELINE } from "./_result.ts";

const SCENARIO = "4 large database";
const DAY_MS = 86_400_000;

/** The state of job `i`: 60% completed, 20% pending, 5% failed, 5% dead, 9% cancelled, 1% running. */
export function stateOf(i: number): string {
  const k = i % 100;
  if (k < 60) return "completed";
  if (k < 80) return "pending";
  if (k < 85) return "failed";
  if (k < 90) return "dead";
  if (k < 99) return "cancelled";
  return "processing";
}

/**
 * Builds a database of `n` jobs with one run per started job, by direct SQL:
 * indexes are dropped during the load and rebuilt with their own SQL, and
 * `job_counts` is set from the rows (inserts fire no count trigger).
 */
export async function buildLargeDb(path: string, n: number, now: number): Promise<void> {
  await createSchema(path);
  using db = openDb(path);
  db.exec("PRAGMA synchronous = OFF");
  const indexes = db.prepare(
    `SELECT name, sql FROM sqlite_master
     WHERE type = 'index' AND tbl_name IN ('jobs', 'runs') AND sql IS NOT NULL`,
  ).all().map((r) => ({ name: r.name as string, sql: r.sql as string }));
  db.exec("BEGIN IMMEDIATE");
  for (const index of indexes) db.exec(`DROP INDEX ${index.name}`);
  const insertJob = db.prepare(
    `INSERT INTO jobs (id, command, state, queue, priority, max_retries, timeout, env, cwd,
       attempts, created_at, updated_at, next_run_at, last_error, worker_id, lease_expires_at)
     VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertRun = db.prepare(
    `INSERT INTO runs (job_id, attempt, worker_id, started_at, finished_at, outcome, exit_code,
       error, host)
     VALUES (?, ?, 'bench-worker', ?, ?, ?, ?, ?, 'bench-host')`,
  );
  const span = 30 * DAY_MS;
  for (let i = 0; i < n; i++) {
    const id = `job-${String(i).padStart(8, "0")}`;
    const state = stateOf(i);
    // Older jobs first; the last 1% finished within the last minute (recent throughput).
    const created = now - span + Math.floor((span * i) / n);
    const finished = i >= n * 0.99 ? now - 30_000 + (i % 1000) : created + 1000;
    const started = state !== "pending" && state !== "cancelled";
    const error = state === "failed" || state === "dead" ? "exit code 1" : null;
    const next = state === "pending" ? created : state === "failed" ? now + 60_000 + i : null;
    insertJob.run(
      id,
      `echo ${i}`,
      state,
      i % 10 === 0 ? "reports" : "default",
      i % 5,
      started ? 1 : 0,
      created,
      state === "processing" ? now : finished,
      next,
      error,
      state === "processing" ? "bench-worker" : null,
      state === "processing" ? now + 30_000 : null,
    );
    if (started) {
      const done = state !== "processing";
      insertRun.run(
        id,
        1,
        created,
        done ? finished : null,
        done ? (state === "completed" ? "succeeded" : "failed") : null,
        done ? (state === "completed" ? 0 : 1) : null,
        error,
      );
    }
  }
  for (const index of indexes) db.exec(index.sql);
  db.exec("UPDATE job_counts SET n = 0");
  const update = db.prepare("UPDATE job_counts SET n = ? WHERE state = ?");
  for (const r of db.prepare("SELECT state, count(*) AS n FROM jobs GROUP BY state").all()) {
    update.run(r.n as number, r.state as string);
  }
  db.exec("COMMIT");
  // No ANALYZE: a user's database has no statistics either.
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

/** Measures scenario 4. */
export async function benchLargeDb(ctx: BenchContext): Promise<Row[]> {
  if (ctx.store.kind === "postgres") return await benchLargeDbPostgres(ctx);
  const n = ctx.quick ? 100_000 : 1_000_000;
  const runs = ctx.quick ? 5 : 11;
  await using dir = await tempDir();
  const db = `${dir.path}/queue.db`;
  ctx.log(`${SCENARIO}: building ${n} jobs`);
  const buildStart = performance.now();
  await buildLargeDb(db, n, Date.now());
  const buildMs = performance.now() - buildStart;
  {
    using check = openDb(db);
    const total = Object.values(jobCounts(check)).reduce((a, b) => a + b, 0);
    if (total !== n) throw new Error(`job_counts adds up to ${total}, not ${n}`);
  }
  // The counts must be what `status` shows.
  const status = JSON.parse((await runOk(ctx.cli.argv(["status", "--json"]), { db })).stdout);
  const shown = Object.values(status.counts as Record<string, number>).reduce((a, b) => a + b, 0);
  if (shown !== n) throw new Error(`status --json counts ${shown} jobs, not ${n}`);

  ctx.log(`${SCENARIO}: timing status, list, --version (${runs} runs each)`);
  const version = median(await wallTimes(ctx.cli.argv(["--version"]), runs, { db }));
  const statusMs = median(await wallTimes(ctx.cli.argv(["status"]), runs, { db }));
  const listMs = median(
    await wallTimes(ctx.cli.argv(["list", "--state", "pending", "--limit", "50"]), runs, { db }),
  );
  const floor = median(await wallTimes(floorQuery(db), runs, { db }));
  const size = `${n.toLocaleString("en-US")} jobs`;
  const common = {
    scenario: SCENARIO,
    unit: "ms",
    baseline: version,
    baselineLabel: "--version",
    // Target: at most 1.15x the same CLI's --version.
    target: { kind: "ratio_max", value: 1.15 } as const,
  };
  return [
    row({
      ...common,
      metric: `status, ${size}`,
      figure: statusMs,
      note: `median of ${runs}; database built in ${(buildMs / 1000).toFixed(1)} s`,
    }),
    row({ ...common, metric: `list --state pending --limit 50, ${size}`, figure: listMs }),
    ...floorRows(size, statusMs, listMs, floor),
  ];
}

/** `bench/floor_query.ts` on `db`: opens the same store and runs one query. */
function floorQuery(db: string): string[] {
  return [Deno.execPath(), "run", "-A", `${ROOT}/bench/floor_query.ts`, db];
}

/** `status` and `list` against the query floor of the same database (target: at most 1.15x). */
function floorRows(size: string, statusMs: number, listMs: number, floor: number): Row[] {
  const common = {
    scenario: SCENARIO,
    unit: "ms",
    baseline: floor,
    baselineLabel: "floor_query.ts",
    target: { kind: "ratio_max", value: 1.15 } as const,
  };
  return [
    row({ ...common, metric: `status, ${size}, vs floor`, figure: statusMs }),
    row({
      ...common,
      metric: `list --state pending --limit 50, ${size}, vs floor`,
      figure: listMs,
    }),
  ];
}

/** Scenario 4 on PostgreSQL. */
async function benchLargeDbPostgres(ctx: BenchContext): Promise<Row[]> {
  const { pgBuildLargeDb } = await import("./_postgres.ts");
  const n = ctx.quick ? 100_000 : 1_000_000;
  const runs = ctx.quick ? 5 : 11;
  const on = ` (${ctx.store.label})`;
  await using store = await ctx.store.fresh("large-db");
  const db = store.location;
  ctx.log(`${SCENARIO}${on}: building ${n} jobs`);
  const buildStart = performance.now();
  await pgBuildLargeDb(store, n, Date.now());
  const buildMs = performance.now() - buildStart;
  const total = Object.values(await store.counts()).reduce((a, b) => a + b, 0);
  if (total !== n) throw new Error(`job_counts adds up to ${total}, not ${n}`);
  const status = JSON.parse((await runOk(ctx.cli.argv(["status", "--json"]), { db })).stdout);
  const shown = Object.values(status.counts as Record<string, number>).reduce((a, b) => a + b, 0);
  if (shown !== n) throw new Error(`status --json counts ${shown} jobs, not ${n}`);

  ctx.log(`${SCENARIO}${on}: timing status, list, --version (${runs} runs each)`);
  const version = median(await wallTimes(ctx.cli.argv(["--version"]), runs, { db }));
  const statusMs = median(await wallTimes(ctx.cli.argv(["status"]), runs, { db }));
  const listMs = median(
    await wallTimes(ctx.cli.argv(["list", "--state", "pending", "--limit", "50"]), runs, { db }),
  );
  const floor = median(await wallTimes(floorQuery(db), runs, { db }));
  const size = `${n.toLocaleString("en-US")} jobs`;
  const pair = (metric: string, figure: number, note?: string) => [
    row({
      scenario: SCENARIO,
      metric,
      figure,
      unit: "ms",
      baseline: figureOf(ctx.sqlite, metric),
      baselineLabel: SQLITE_BASELINE,
      note,
    }),
    row({
      scenario: SCENARIO,
      metric: `${metric}, vs --version`,
      figure,
      unit: "ms",
      baseline: version,
      baselineLabel: "--version",
      target: { kind: "ratio_max", value: 1.15 },
    }),
  ];
  return [
    ...pair(
      `status, ${size}`,
      statusMs,
      `median of ${runs}; built in ${(buildMs / 1000).toFixed(1)} s by SQL, then VACUUM ANALYZE`,
    ),
    ...pair(`list --state pending --limit 50, ${size}`, listMs),
    ...floorRows(size, statusMs, listMs, floor),
  ];
}
