/**
 * Test fixtures shared by every suite: temp folders and databases (SQLite,
 * or PostgreSQL with {@linkcode storeTest}), the real CLI, polling with deadlines.
 */
import { clusterUnavailableReason } from "../scripts/with_postgres.ts";
import type { TestPostgres } from "./_postgres.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Every field a job has in `--json` output (README "Commands"), sorted. */
export const JOB_FIELDS = [
  "id",
  "command",
  "state",
  "queue",
  "priority",
  "max_retries",
  "timeout",
  "env",
  "cwd",
  "attempts",
  "created_at",
  "updated_at",
  "next_run_at",
  "last_error",
  "worker_id",
  "after",
  "key",
  "retry_on",
  "group",
  "backoff_base",
  "backoff_max",
  "expires_at",
  "after_any",
  "unique_for",
  "on_finish",
  "progress",
  "progress_message",
  "tags",
].sort();

/** Every field of one attempt in `show --json`'s `runs` (README "Commands"), sorted. */
export const RUN_FIELDS = [
  "attempt",
  "started_at",
  "finished_at",
  "duration_ms",
  "outcome",
  "exit_code",
  "signal",
  "error",
  "worker_id",
  "hook",
].sort();

/** A temporary folder removed when disposed: `await using dir = await tempDir()`. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "queuectl-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** The stores a test can run on: `storeTest` registers one copy per kind. */
export type StoreKind = "sqlite" | "postgres";

/** Every store kind, in the order `storeTest` registers them. */
export const STORE_KINDS: readonly StoreKind[] = ["sqlite", "postgres"];

/** A fresh, empty database for one test, and a temp folder; removed when disposed. */
export interface TempDb extends AsyncDisposable {
  kind: StoreKind;
  /** What to pass as `--db`: a file path, or a PostgreSQL URL on a schema of its own. */
  db: string;
  /** How the store shows its location (`status`, the dashboard): the path, or the URL without password. */
  display: string;
  /** A temporary folder for files the test writes. */
  dir: string;
}

/**
 * A temporary database: a SQLite file in its own folder (the default), or a
 * fresh schema `t_<random>` on the tests' PostgreSQL server, dropped when
 * disposed (with a temp folder all the same).
 */
export async function withTempDb(kind: StoreKind = "sqlite"): Promise<TempDb> {
  const dir = await tempDir();
  if (kind === "sqlite") {
    const db = `${dir.path}/queue.db`;
    return {
      kind,
      db,
      display: db,
      dir: dir.path,
      [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
    };
  }
  try {
    const pg = await testPostgres();
    const db = pg.newUrl();
    const schema = new URL(db).searchParams.get("schema")!;
    return {
      kind,
      db,
      display: shownAs(db),
      dir: dir.path,
      async [Symbol.asyncDispose]() {
        try {
          // A worker left running would hold locks: give up after a while rather than hang.
          await pg.admin(`DO $$ BEGIN
            PERFORM set_config('lock_timeout', '10s', true);
            DROP SCHEMA IF EXISTS "${schema}" CASCADE;
          END $$`);
        } finally {
          await dir[Symbol.asyncDispose]();
        }
      },
    };
  } catch (error) {
    await dir[Symbol.asyncDispose]();
    throw error;
  }
}

/**
 * How a PostgreSQL URL should be shown (README "Many machines: PostgreSQL"), written out here
 * rather than borrowed from the code under test: no password, the port and
 * the schema always given.
 */
function shownAs(url: string): string {
  const parsed = new URL(url);
  const user = parsed.username ? `${parsed.username}@` : "";
  const schema = parsed.searchParams.get("schema");
  return `postgres://${user}${parsed.hostname}:${
    parsed.port || 5432
  }${parsed.pathname}?schema=${schema}`;
}

/**
 * Why the PostgreSQL copies of store tests cannot run here, or `null` when
 * they can: decided at registration, without starting anything.
 */
export function postgresUnavailable(): string | null {
  if (Deno.env.get("QUEUECTL_TEST_PG_URL")) return null;
  const why = clusterUnavailableReason();
  return why === null ? null : `${why} and QUEUECTL_TEST_PG_URL is not set`;
}

/** The install command a NOT RUN line names. */
const POSTGRES_INSTALL = "apt-get install -y postgresql";

/**
 * The tests' PostgreSQL server, started on first use: `tests/_postgres.ts`
 * starts a throwaway cluster for this test file (or uses
 * `QUEUECTL_TEST_PG_URL`) when it is first imported, so test files that
 * never run a PostgreSQL copy start nothing.
 */
async function testPostgres(): Promise<TestPostgres> {
  const { pg, pgNotRun } = await import("./_postgres.ts");
  if (pg === null) throw new Error(`PostgreSQL is not available: ${pgNotRun}`);
  return pg;
}

/** Options of {@linkcode storeTest}: those of `Deno.test`, less the name and function. */
export type StoreTestOptions = Omit<Deno.TestDefinition, "name" | "fn">;

/**
 * Registers a test once per store, `"<name> [sqlite]"` and `"<name> [postgres]"`,
 * each with a fresh database of its kind. Where PostgreSQL is unavailable
 * the PostgreSQL copy is ignored and one NOT RUN line says why and how to
 * install it: never failed, never counted as passed.
 */
export function storeTest(
  name: string,
  fn: (tmp: TempDb) => Promise<void>,
  options: StoreTestOptions = {},
): void {
  for (const kind of STORE_KINDS) {
    const title = `${name} [${kind}]`;
    const missing = kind === "postgres" ? postgresUnavailable() : null;
    if (missing !== null && !options.ignore) {
      console.log(`NOT RUN: ${title}: ${missing}; install it with: ${POSTGRES_INSTALL}`);
    }
    Deno.test({
      ...options,
      name: title,
      ignore: options.ignore || missing !== null,
      async fn() {
        await using tmp = await withTempDb(kind);
        await fn(tmp);
      },
    });
  }
}

/** What a finished CLI process left behind. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  db?: string;
  stdin?: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** The command line that runs the real CLI. */
export function cliCommand(args: string[], options: RunCliOptions = {}): Deno.Command {
  const env: Record<string, string> = { NO_COLOR: "1", ...options.env };
  if (options.db) env.QUEUECTL_DB = options.db;
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs `queuectl <args>` to completion in a child process. */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const child = cliCommand(args, options).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs `queuectl <args> --json` and parses stdout; throws with stderr on failure. */
export async function cliJson<T = unknown>(
  args: string[],
  options: RunCliOptions = {},
): Promise<T> {
  const result = await runCli([...args, "--json"], options);
  if (result.code !== 0) {
    throw new Error(`queuectl ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}

/** Polls `condition` every `intervalMs` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${options.message ?? "a condition"}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/** A spawned child whose output is gathered as text as it comes; see {@linkcode watchChild}. */
export interface WatchedChild {
  /** Resolves when it has exited. */
  status: Promise<Deno.CommandStatus>;
  /** Resolves when both output streams have ended. */
  reading: Promise<unknown>;
  exited(): boolean;
  /** Everything it printed on stdout so far. */
  stdout(): string;
  /** Everything it printed on stderr so far. */
  stderr(): string;
  /** Sends a signal unless it has exited. */
  kill(signal: Deno.Signal): void;
}

/** Gathers a piped child's stdout and stderr as text and notes when it exits. */
export function watchChild(child: Deno.ChildProcess): WatchedChild {
  let out = "";
  let err = "";
  const collect = async (stream: ReadableStream<Uint8Array>, into: (s: string) => void) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) into(text);
  };
  const reading = Promise.all([
    collect(child.stdout, (s) => (out += s)),
    collect(child.stderr, (s) => (err += s)),
  ]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  return {
    status,
    reading,
    exited: () => exited,
    stdout: () => out,
    stderr: () => err,
    kill(signal) {
      if (exited) return;
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    },
  };
}
