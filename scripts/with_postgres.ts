/**
 * A throwaway PostgreSQL cluster for tests, and a wrapper that runs a
 * command with one: `deno run -A scripts/with_postgres.ts deno test -A tests/`
 * starts a cluster, sets `QUEUECTL_TEST_PG_URL` for the command, and stops
 * and removes the cluster when the command ends, so every test file shares
 * one cluster instead of starting its own.
 *
 * Needs Debian's server (`apt-get install -y postgresql`) and root (the
 * cluster runs as the `postgres` user: initdb refuses root).
 */

/** A running throwaway cluster. */
export interface Cluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth: no password). */
  url: string;
  port: number;
  /** The cluster's data directory (for restarts by fault tests). */
  dataDir: string;
  /** The folder of `pg_ctl`, `initdb`, `psql`. */
  bin: string;
  /** The folder holding the data directory and the server's socket. */
  dir: string;
  /** Stops the server at once and removes its folder; synchronous, for `unload`. */
  stopSync(): void;
}

/** The newest `/usr/lib/postgresql/<version>/bin` with an `initdb`, or `null`. */
export function findPostgresBin(): string | null {
  let versions: number[] = [];
  try {
    for (const entry of Deno.readDirSync("/usr/lib/postgresql")) {
      if (/^\d+$/.test(entry.name)) versions.push(Number(entry.name));
    }
  } catch {
    return null;
  }
  versions = versions.sort((a, b) => b - a);
  for (const version of versions) {
    const bin = `/usr/lib/postgresql/${version}/bin`;
    try {
      Deno.statSync(`${bin}/initdb`);
      return bin;
    } catch { /* try the next */ }
  }
  return null;
}

/** Why a cluster cannot be started here, or `null` when it can. */
export function clusterUnavailableReason(): string | null {
  if (findPostgresBin() === null) return "no /usr/lib/postgresql/*/bin/initdb";
  if (Deno.uid?.() !== 0) return "starting a throwaway cluster needs root (it runs as postgres)";
  return null;
}

/** Whether `path` exists. */
export function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** `command` run by `sh` as the postgres user (initdb and pg_ctl refuse root). */
export function asPostgres(command: string): Deno.Command {
  return new Deno.Command("su", {
    args: ["postgres", "-s", "/bin/sh", "-c", command],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  });
}

async function run(command: Deno.Command, what: string): Promise<void> {
  const result = await command.output();
  if (!result.success) {
    const out = new TextDecoder().decode(result.stderr) + new TextDecoder().decode(result.stdout);
    throw new Error(`${what} failed: ${out.trim()}`);
  }
}

/** The server options of a throwaway cluster: `pg_ctl -o` for a (re)start. */
export function serverOptions(port: number, socketDir: string): string {
  return `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
}

/** Runs `pg_ctl <action>` on a cluster as the postgres user; throws with its output on failure. */
export async function pgCtl(
  bin: string,
  dataDir: string,
  port: number,
  action: "start" | "stop" | "restart",
  mode: "fast" | "immediate" = "fast",
): Promise<void> {
  const socketDir = dataDir.replace(/\/[^/]+\/?$/, "");
  const options = action === "stop" ? "" : `-o '${serverOptions(port, socketDir)}'`;
  await run(
    asPostgres(
      `${bin}/pg_ctl -D ${dataDir} -l ${socketDir}/server.log -m ${mode} ${options} -w ${action}`,
    ),
    `pg_ctl ${action}`,
  );
}

const PREFIX = "queuectl-pg-";

/**
 * Stops and removes the clusters of test processes that died without
 * cleaning up (killed: no `unload`). Each cluster's folder names its owner pid.
 */
function sweepOrphans(bin: string, parent: string): void {
  for (const entry of Deno.readDirSync(parent)) {
    if (!entry.isDirectory || !entry.name.startsWith(PREFIX)) continue;
    const dir = `${parent}/${entry.name}`;
    let owner: string;
    try {
      owner = Deno.readTextFileSync(`${dir}/owner.pid`).trim();
    } catch {
      continue; // not made by this harness, or being made right now
    }
    if (existsSync(`/proc/${owner}`)) continue; // its process lives: not ours to touch
    asPostgres(`${bin}/pg_ctl -D ${dir}/data -m immediate stop`).outputSync();
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* another sweeper got there first */ }
  }
}

/** Starts a throwaway cluster (trust auth, fsync off, 127.0.0.1 on a free port). */
export async function startCluster(): Promise<Cluster> {
  const bin = findPostgresBin();
  if (bin === null) throw new Error("no /usr/lib/postgresql/*/bin/initdb");
  const dir = await Deno.makeTempDir({ prefix: PREFIX });
  await Deno.writeTextFile(`${dir}/owner.pid`, String(Deno.pid));
  sweepOrphans(bin, dir.slice(0, dir.lastIndexOf("/")));
  const dataDir = `${dir}/data`;
  const port = freePort();
  let started = false;
  const stopSync = () => {
    if (started) {
      asPostgres(`${bin}/pg_ctl -D ${dataDir} -m immediate stop`).outputSync();
      started = false;
    }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* already gone */ }
  };
  try {
    await run(new Deno.Command("chown", { args: ["postgres", dir] }), "chown");
    await run(
      asPostgres(`${bin}/initdb -D ${dataDir} -A trust -U postgres --no-sync >/dev/null`),
      "initdb",
    );
    started = true;
    await pgCtl(bin, dataDir, port, "start");
  } catch (error) {
    stopSync();
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    bin,
    dir,
    stopSync,
  };
}

if (import.meta.main) {
  const [command, ...args] = Deno.args;
  if (!command) {
    console.error("usage: deno run -A scripts/with_postgres.ts <command> [args...]");
    Deno.exit(2);
  }
  const env: Record<string, string> = {};
  let cluster: Cluster | null = null;
  if (!Deno.env.get("QUEUECTL_TEST_PG_URL")) {
    const why = clusterUnavailableReason();
    if (why === null) {
      cluster = await startCluster();
      env.QUEUECTL_TEST_PG_URL = cluster.url;
      env.QUEUECTL_TEST_PG_DATA = cluster.dataDir;
      env.QUEUECTL_TEST_PG_BIN = cluster.bin;
    }
    // Otherwise the tests themselves print why they did not run.
  }
  let code = 1;
  try {
    const child = new Deno.Command(command, { args, env }).spawn();
    const stop = () => child.kill("SIGINT");
    Deno.addSignalListener("SIGINT", stop);
    code = (await child.status).code;
    Deno.removeSignalListener("SIGINT", stop);
  } finally {
    cluster?.stopSync();
  }
  Deno.exit(code);
}
