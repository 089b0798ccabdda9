/**
 * The PostgreSQL server of `deno task bench --store postgres`:
 * `QUEUECTL_BENCH_PG_URL` (or `QUEUECTL_TEST_PG_URL`) when set, otherwise a
 * throwaway cluster started like the tests' (`scripts/with_postgres.ts`:
 * trust auth, fsync off, a free port on 127.0.0.1), stopped and removed at
 * the end. Each scenario gets a fresh schema `bench_<key>`, dropped after.
 *
 * Also the PostgreSQL halves of two scenarios that need direct SQL: the raw
 * insert rate beside a batch enqueue, and building the million-job database.
 */
import postgres from "postgres";
import { openStorage } from "../lib/storage/open_storage.ts";
import { type Cluster, clusterUnavailableReason, startCluster } from "../scripts/with_postgres.ts";
import type { BenchDb, StoreProvider } from "./_store.ts";
import { errorMessage } from "../lib/errors.ts";

/** A server to benchmark on, with a way to give it back. */
export interface BenchServer extends AsyncDisposable {
  provider: StoreProvider;
  /** Where it came from, for the report (no password). */
  origin: string;
}

type Sql = ReturnType<typeof postgres>;

/** A postgres.js client with int8 and numeric as JS numbers (as the store reads them). */
function connect(url: string, schema?: string): Sql {
  return postgres(url, {
    max: 1,
    connect_timeout: 5,
    onnotice: () => {},
    types: {
      bigint: {
        to: 20,
        from: [20, 1700],
        serialize: (x: number) => String(x),
        parse: (x: string) => Number(x),
      },
    },
    ...(schema ? { connection: { search_path: schema } } : {}),
  });
}

/** `url` with its `schema` parameter set to `schema`. */
export function withSchema(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("schema", schema);
  return parsed.toString();
}

/** `url` without a `schema` parameter: what to connect to. */
function withoutSchema(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.delete("schema");
  return parsed.toString();
}

/** `url` with the password masked. */
function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

/**
 * Finds or starts the server. Throws, with one line saying why, when no
 * PostgreSQL can be had.
 */
export async function openServer(log: (message: string) => void): Promise<BenchServer> {
  const named = Deno.env.get("QUEUECTL_BENCH_PG_URL") || Deno.env.get("QUEUECTL_TEST_PG_URL");
  let cluster: Cluster | null = null;
  let url: string;
  let origin: string;
  if (named) {
    url = withoutSchema(named);
    origin = redact(url);
  } else {
    const why = clusterUnavailableReason();
    if (why !== null) {
      throw new Error(
        `no PostgreSQL: QUEUECTL_BENCH_PG_URL is not set and ${why} (apt-get install -y postgresql)`,
      );
    }
    log("starting a throwaway PostgreSQL cluster");
    try {
      cluster = await startCluster();
    } catch (error) {
      throw new Error(
        `no PostgreSQL: the throwaway cluster did not start: ${errorMessage(error).split("\n")[0]}`,
      );
    }
    url = cluster.url;
    origin = `throwaway cluster on port ${cluster.port} (fsync off)`;
  }
  // Stop the cluster on Ctrl-C too; the end of the run stops it otherwise.
  const onSignal = () => {
    cluster?.stopSync();
    Deno.exit(130);
  };
  if (cluster) Deno.addSignalListener("SIGINT", onSignal);
  const admin = connect(url);
  let version: string;
  try {
    const [row] = await admin`SHOW server_version`;
    version = String(row!.server_version).split(" ")[0]!;
  } catch (error) {
    await admin.end({ timeout: 1 }).catch(() => {});
    if (cluster) {
      Deno.removeSignalListener("SIGINT", onSignal);
      cluster.stopSync();
    }
    throw new Error(
      `no PostgreSQL: ${redact(url)} does not answer: ${errorMessage(error).split("\n")[0]}`,
    );
  }
  const dataDir = cluster?.dataDir;
  const provider: StoreProvider = {
    kind: "postgres",
    label: `PostgreSQL ${version}`,
    fresh: (key) => freshSchema(admin, url, `bench_${key.replaceAll("-", "_")}`),
    ...(dataDir ? { serverTicks: () => clusterTicks(dataDir) } : {}),
  };
  return {
    provider,
    origin: `${origin}, PostgreSQL ${version}`,
    async [Symbol.asyncDispose]() {
      await admin.end({ timeout: 1 }).catch(() => {});
      if (cluster) {
        Deno.removeSignalListener("SIGINT", onSignal);
        cluster.stopSync();
      }
    },
  };
}

/** utime, stime, cutime, cstime (clock ticks) and the parent of a process, from /proc. */
function procTimes(pid: string): { ticks: number; reaped: number; ppid: number } | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name: [0] state, [1] ppid, [11..14] utime..cstime.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return {
      ticks: Number(f[11]) + Number(f[12]),
      reaped: Number(f[13]) + Number(f[14]),
      ppid: Number(f[1]),
    };
  } catch {
    return null; // gone meanwhile
  }
}

/**
 * CPU (clock ticks) of our throwaway cluster so far: the postmaster with the
 * backends it reaped, plus its live children. It is no child of ours, so
 * the benchmark would otherwise count it as another process's load.
 */
function clusterTicks(dataDir: string): number {
  let postmaster: string;
  try {
    postmaster = Deno.readTextFileSync(`${dataDir}/postmaster.pid`).split("\n")[0]!.trim();
  } catch {
    return 0;
  }
  const main = procTimes(postmaster);
  if (!main) return 0;
  let total = main.ticks + main.reaped;
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const child = procTimes(entry.name);
    if (child?.ppid === Number(postmaster)) total += child.ticks;
  }
  return total;
}

async function dropSchema(admin: Sql, schema: string): Promise<void> {
  await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

async function freshSchema(admin: Sql, server: string, schema: string): Promise<BenchDb> {
  await dropSchema(admin, schema);
  const location = withSchema(server, schema);
  let conn: Sql | null = null;
  const open = () => conn ??= connect(server, schema);
  return {
    location,
    path: null,
    async createSchema() {
      const store = await openStorage(location);
      await store.close();
    },
    async counts() {
      const counts: Record<string, number> = {};
      const rows = await open().unsafe(
        `SELECT state, sum(n) AS n FROM (
           SELECT state, n FROM job_counts UNION ALL SELECT state, n FROM job_count_deltas
         ) c GROUP BY state`,
      );
      for (const r of rows) counts[r.state as string] = r.n as number;
      return counts;
    },
    async all(query) {
      return [...await open().unsafe(query)] as Record<string, unknown>[];
    },
    async [Symbol.asyncDispose]() {
      await conn?.end({ timeout: 1 }).catch(() => {});
      await dropSchema(admin, schema).catch(() => {});
    },
  };
}

/**
 * The raw rate (jobs/s) of inserting `jobs` into a fresh schema of the
 * product's: one `INSERT … SELECT FROM unnest(arrays)` in one transaction,
 * the count trigger firing as it does for the store.
 */
export async function pgRawInsertRate(
  db: BenchDb,
  jobs: { id: string; command: string; priority: number }[],
): Promise<number> {
  await db.createSchema();
  const url = new URL(db.location);
  const schema = url.searchParams.get("schema")!;
  const sql = connect(withoutSchema(db.location), schema);
  try {
    await sql`SELECT 1`; // connected before the clock starts
    const now = Date.now();
    const start = performance.now();
    await sql.begin((tx) =>
      tx.unsafe(
        `INSERT INTO jobs (id, command, state, queue, priority, created_at, updated_at,
           next_run_at)
         SELECT id, command, 'pending', 'default', priority, ${now}, ${now}, ${now}
         FROM unnest($1::text[], $2::text[], $3::int[]) AS t(id, command, priority)`,
        [jobs.map((j) => j.id), jobs.map((j) => j.command), jobs.map((j) => j.priority)],
      )
    );
    return jobs.length / ((performance.now() - start) / 1000);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * Builds the million-job database of scenario 4 on PostgreSQL with the same
 * jobs, states and runs as the SQLite one (`stateOf` in `large_db.ts`),
 * straight in SQL: the product creates its schema first, its own indexes
 * are dropped during the load and rebuilt from their definitions, the count
 * triggers are off during the load and `job_counts` is set from the rows
 * (no deltas left, as after housekeeping folded them); then VACUUM ANALYZE,
 * as autovacuum would have done on a database that grew to this size.
 */
export async function pgBuildLargeDb(db: BenchDb, n: number, now: number): Promise<void> {
  await db.createSchema();
  const schema = new URL(db.location).searchParams.get("schema")!;
  const sql = connect(withoutSchema(db.location), schema);
  const span = 30 * 86_400_000;
  try {
    await sql.unsafe("SET maintenance_work_mem = '256MB'");
    await sql.begin(async (tx) => {
      const indexes = await tx.unsafe(
        `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_class t ON t.oid = i.indrelid
         WHERE t.relnamespace = current_schema()::regnamespace AND t.relname IN ('jobs', 'runs')
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`,
      );
      for (const index of indexes) await tx.unsafe(`DROP INDEX "${index.name}"`);
      await tx.unsafe("ALTER TABLE jobs DISABLE TRIGGER USER");
      await tx.unsafe(
        `INSERT INTO jobs (id, command, state, queue, priority, max_retries, timeout, env, cwd,
           attempts, created_at, updated_at, next_run_at, last_error, worker_id, lease_expires_at)
         SELECT 'job-' || lpad(i::text, 8, '0'), 'echo ' || i, s.state,
           CASE WHEN i % 10 = 0 THEN 'reports' ELSE 'default' END, (i % 5)::int,
           NULL, NULL, NULL, NULL,
           CASE WHEN s.state IN ('pending', 'cancelled') THEN 0 ELSE 1 END,
           c.created,
           CASE WHEN s.state = 'processing' THEN ${now}::bigint ELSE f.finished END,
           CASE s.state WHEN 'pending' THEN c.created WHEN 'failed' THEN ${now} + 60000 + i END,
           CASE WHEN s.state IN ('failed', 'dead') THEN 'exit code 1' END,
           CASE WHEN s.state = 'processing' THEN 'bench-worker' END,
           CASE WHEN s.state = 'processing' THEN ${now}::bigint + 30000 END
         FROM generate_series(0::bigint, ${n - 1}) AS i
         CROSS JOIN LATERAL (SELECT CASE
             WHEN i % 100 < 60 THEN 'completed' WHEN i % 100 < 80 THEN 'pending'
             WHEN i % 100 < 85 THEN 'failed' WHEN i % 100 < 90 THEN 'dead'
             WHEN i % 100 < 99 THEN 'cancelled' ELSE 'processing' END AS state) s
         CROSS JOIN LATERAL (SELECT ${now - span}::bigint + (${span}::bigint * i) / ${n}
           AS created) c
         CROSS JOIN LATERAL (SELECT CASE WHEN i >= ${n * 0.99}
             THEN ${now - 30_000}::bigint + i % 1000 ELSE c.created + 1000 END AS finished) f
         ORDER BY i`,
      );
      await tx.unsafe(
        `INSERT INTO runs (job_id, attempt, worker_id, started_at, finished_at, outcome,
           exit_code, error, host)
         SELECT id, 1, 'bench-worker', created_at,
           CASE WHEN state <> 'processing' THEN updated_at END,
           CASE state WHEN 'processing' THEN NULL WHEN 'completed' THEN 'succeeded'
             ELSE 'failed' END,
           CASE state WHEN 'processing' THEN NULL WHEN 'completed' THEN 0 ELSE 1 END,
           last_error, 'bench-host'
         FROM jobs WHERE state NOT IN ('pending', 'cancelled') ORDER BY seq`,
      );
      for (const index of indexes) await tx.unsafe(index.def as string);
      await tx.unsafe("ALTER TABLE jobs ENABLE TRIGGER USER");
      await tx.unsafe(
        `UPDATE job_counts c SET n = coalesce((SELECT count(*) FROM jobs j
           WHERE j.state = c.state), 0)`,
      );
      await tx.unsafe("DELETE FROM job_count_deltas");
    });
    await sql.unsafe("VACUUM (ANALYZE) jobs, runs, job_counts, job_count_deltas");
  } finally {
    await sql.end({ timeout: 1 });
  }
}
