/**
 * The PostgreSQL server of the tests (README "Development"). `QUEUECTL_TEST_PG_URL`
 * names one to use (`scripts/with_postgres.ts` sets it to share one cluster
 * across test files); otherwise, as root with Debian's server installed, a
 * throwaway cluster starts for this test file and is removed at exit;
 * otherwise {@linkcode pgNotRun} says why and the tests register ignored.
 *
 * Each test gets its own schema: `pg.newUrl()`.
 */
import postgres from "postgres";
import {
  type Cluster,
  clusterUnavailableReason,
  pgCtl,
  startCluster,
} from "../scripts/with_postgres.ts";
import { errorMessage } from "../lib/errors.ts";

/** The server the PostgreSQL tests use. */
export interface TestPostgres {
  /** The server's URL without a schema: `postgres://postgres@127.0.0.1:<port>/postgres`. */
  url: string;
  host: string;
  port: number;
  /** The data directory and binaries of a cluster we started (or named), for restarts. */
  dataDir: string | null;
  bin: string | null;
  /** A URL of this server with a new, unused schema `t_<random>`. */
  newUrl(): string;
  /**
   * `pg_ctl start|stop|restart` of the cluster (for fault tests); `null` on a
   * server we did not start and cannot control.
   */
  ctl:
    | ((action: "start" | "stop" | "restart", mode?: "fast" | "immediate") => Promise<void>)
    | null;
  /** Runs SQL as the admin user on a short-lived connection; returns the rows. */
  admin(sql: string): Promise<Record<string, unknown>[]>;
}

/** Why the PostgreSQL tests do not run here, or `null` when they do. */
export let pgNotRun: string | null = null;

let cluster: Cluster | null = null;

async function setUp(): Promise<TestPostgres | null> {
  let url = Deno.env.get("QUEUECTL_TEST_PG_URL") ?? null;
  let dataDir = Deno.env.get("QUEUECTL_TEST_PG_DATA") ?? null;
  let bin = Deno.env.get("QUEUECTL_TEST_PG_BIN") ?? null;
  if (!url) {
    const why = clusterUnavailableReason();
    if (why !== null) {
      pgNotRun = why;
      return null;
    }
    try {
      cluster = await startCluster();
    } catch (error) {
      pgNotRun = `the throwaway cluster did not start: ${errorMessage(error).split("\n")[0]}`;
      return null;
    }
    globalThis.addEventListener("unload", () => cluster?.stopSync());
    ({ url, dataDir, bin } = cluster);
  }
  const parsed = new URL(url);
  const base = url;
  return {
    url: base,
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    dataDir,
    bin,
    ctl: dataDir !== null && bin !== null
      ? (action, mode) => pgCtl(bin!, dataDir!, Number(parsed.port || 5432), action, mode)
      : null,
    newUrl() {
      const schema = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
      return `${base}${base.includes("?") ? "&" : "?"}schema=${schema}`;
    },
    async admin(query: string) {
      const sql = postgres(base, { max: 1, onnotice: () => {}, connect_timeout: 5 });
      try {
        return [...await sql.unsafe(query)] as Record<string, unknown>[];
      } finally {
        await sql.end({ timeout: 1 });
      }
    },
  };
}

/** The PostgreSQL server of the tests, or `null` when they do not run (see {@linkcode pgNotRun}). */
export const pg: TestPostgres | null = await setUp();

if (pgNotRun !== null) {
  console.log(
    `NOT RUN: PostgreSQL tests: ${pgNotRun}; install it with: apt-get install -y postgresql`,
  );
}

/** Registers a test that runs only when a PostgreSQL server is available. */
export function pgTest(name: string, fn: (pg: TestPostgres) => Promise<void>): void {
  Deno.test({ name, ignore: pg === null, fn: () => fn(pg!) });
}
