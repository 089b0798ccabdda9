/**
 * Hosts as network namespaces, for the multi-host fault tests (DESIGN.md
 * "PostgreSQL"): each "host" is `ip netns add qctl<owner pid>x<random>-hN`
 * with a veth pair of its own (a /30 inside a private /24 chosen for the
 * test file), and a dedicated throwaway PostgreSQL cluster listens on
 * 127.0.0.1 and on the root side of every pair. Workers run in a namespace
 * with `ip netns exec`, so cutting a host's link (`ip link set … down`)
 * cuts that host off the server, and nothing else.
 *
 * Needs root, `ip netns` and Debian's PostgreSQL server. Without them,
 * {@linkcode netnsNotRun} says why, one `NOT RUN` line is printed, and the
 * tests register as ignored (decided at import).
 *
 * Everything the harness made is removed after each test (processes) and
 * at `unload` (namespaces, links, the cluster); a test process killed
 * before `unload` has its leftovers swept by the next one (names carry
 * the owner's pid).
 */
import postgres from "postgres";
import { asPostgres, existsSync, findPostgresBin, freePort } from "../scripts/with_postgres.ts";
import { waitFor, watchChild } from "./_helpers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const NS_PREFIX = "qctl";
const CLUSTER_PREFIX = "queuectl-pg-";
const DIR_PREFIX = "queuectl-multihost-";

/** The result of a finished command. */
interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

function runSync(command: string, args: string[]): Output {
  try {
    const out = new Deno.Command(command, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .outputSync();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } catch (error) {
    return { code: 127, stdout: "", stderr: String(error) };
  }
}

async function run(command: string, args: string[]): Promise<Output> {
  const out = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function must(command: string, args: string[]): Promise<string> {
  const out = await run(command, args);
  if (out.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${out.code}: ${out.stderr.trim()}`);
  }
  return out.stdout;
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** Why the multi-host tests cannot run here (with how to get what is missing), or `null`. */
function probe(): string | null {
  if (Deno.build.os !== "linux") return "network namespaces need Linux; run them on Linux";
  if (Deno.uid?.() !== 0) {
    return "ip netns and the throwaway cluster need root; run deno task test as root " +
      "(e.g. in the CI container)";
  }
  if (runSync("ip", ["-V"]).code !== 0) {
    return "no ip command; install it with: apt-get install -y iproute2";
  }
  if (findPostgresBin() === null) {
    return "no /usr/lib/postgresql/*/bin/initdb; install it with: apt-get install -y postgresql";
  }
  if (runSync("su", ["--version"]).code !== 0) {
    return "no su to run the cluster as postgres; install it with: apt-get install -y util-linux";
  }
  // Test files of one `deno test --parallel` share a pid and probe at once:
  // a random part keeps their probes apart (a clash read as "not permitted").
  const name = `${NS_PREFIX}${Deno.pid}xprobe${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  const added = runSync("ip", ["netns", "add", name]);
  if (added.code !== 0) {
    return `ip netns add is not permitted here (${firstLine(added.stderr)}); ` +
      "run as root with CAP_SYS_ADMIN, e.g. a privileged container";
  }
  const veth = runSync("ip", ["-n", name, "link", "add", "p0", "type", "veth", "peer", "p1"]);
  runSync("ip", ["netns", "del", name]);
  if (veth.code !== 0) {
    return `veth pairs cannot be made here (${firstLine(veth.stderr)}); ` +
      "load the veth module (modprobe veth) or run on a full Linux kernel";
  }
  return null;
}

/** Why the multi-host tests do not run here, or `null` when they do. */
export const netnsNotRun: string | null = probe();

if (netnsNotRun !== null) console.log(`NOT RUN: multi-host tests: ${netnsNotRun}`);

// ---------------------------------------------------------------------------
// Addresses

function ipToInt(ip: string): number {
  return ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

/** Every IPv4 prefix this machine has as an address or a route, as [first, last] ranges. */
function usedRanges(): [number, number][] {
  const text = runSync("ip", ["-o", "-4", "addr"]).stdout + "\n" +
    runSync("ip", ["-4", "route", "show", "table", "all"]).stdout;
  const ranges: [number, number][] = [];
  for (const match of text.matchAll(/(?<![\d.])(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)) {
    const bits = match[2] === undefined ? 32 : Number(match[2]);
    if (bits === 0) continue; // the default route covers everything: not a prefix in use
    const size = 2 ** (32 - bits);
    const first = Math.floor(ipToInt(match[1]!) / size) * size;
    ranges.push([first, first + size - 1]);
  }
  return ranges;
}

/** A random `10.2xx.yyy` /24 that overlaps no address or route of this machine. */
function pickSubnet(): string {
  const used = usedRanges();
  for (let i = 0; i < 200; i++) {
    const prefix = `10.${200 + Math.floor(Math.random() * 55)}.${Math.floor(Math.random() * 256)}`;
    const first = ipToInt(`${prefix}.0`);
    const last = first + 255;
    if (!used.some(([a, b]) => a <= last && first <= b)) return prefix;
  }
  throw new Error("No free private /24 under 10.200.0.0/9 for the test hosts");
}

// ---------------------------------------------------------------------------
// The cluster

async function runAsPostgres(command: string, what: string): Promise<void> {
  const out = await asPostgres(command).output();
  if (!out.success) {
    const decoder = new TextDecoder();
    throw new Error(
      `${what} failed: ${(decoder.decode(out.stderr) + decoder.decode(out.stdout)).trim()}`,
    );
  }
}

/**
 * Stops and removes what test processes that died without `unload` left:
 * their namespaces (and everything running in them) and their clusters.
 * Each carries its owner's pid; a live owner's things are never touched.
 */
function sweepLeftovers(bin: string): void {
  const pattern = new RegExp(`^${NS_PREFIX}(\\d+)x`);
  for (const line of runSync("ip", ["netns", "list"]).stdout.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const owner = pattern.exec(name)?.[1];
    if (owner === undefined || existsSync(`/proc/${owner}`)) continue;
    killNamespaceSync(name);
    runSync("ip", ["netns", "del", name]);
  }
  const tmp = Deno.makeTempDirSync({ prefix: "queuectl-sweep-" });
  Deno.removeSync(tmp);
  const parent = tmp.slice(0, tmp.lastIndexOf("/"));
  for (const entry of Deno.readDirSync(parent)) {
    const cluster = entry.name.startsWith(CLUSTER_PREFIX);
    if (!entry.isDirectory || !(cluster || entry.name.startsWith(DIR_PREFIX))) continue;
    const dir = `${parent}/${entry.name}`;
    let owner: string;
    try {
      owner = Deno.readTextFileSync(`${dir}/owner.pid`).trim();
    } catch {
      continue; // not made by a harness, or being made right now
    }
    if (existsSync(`/proc/${owner}`)) continue;
    if (cluster) asPostgres(`${bin}/pg_ctl -D ${dir}/data -m immediate stop`).outputSync();
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* another sweeper got there first */ }
  }
}

function namespacePids(ns: string): number[] {
  return runSync("ip", ["netns", "pids", ns]).stdout.split("\n").map((l) => l.trim())
    .filter((l) => /^\d+$/.test(l)).map(Number).filter((pid) => pid !== Deno.pid);
}

/** SIGKILLs every process in namespace `ns` until none is left (bounded). */
async function killNamespace(ns: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const pids = namespacePids(ns);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone meanwhile */ }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** {@linkcode killNamespace}, synchronous: for `unload`, which cannot await. */
function killNamespaceSync(ns: string): void {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const pids = namespacePids(ns);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone meanwhile */ }
    }
    const until = Date.now() + 50;
    while (Date.now() < until) { /* a bounded wait: unload cannot await */ }
  }
}

/** The dedicated cluster of one test file. */
interface LabCluster {
  port: number;
  bin: string;
  dir: string;
  dataDir: string;
  started: boolean;
}

/**
 * Makes and starts the cluster into `cluster` (filled in as it goes, so a
 * teardown after a failure removes what exists).
 */
async function startLabCluster(
  cluster: LabCluster,
  listen: string[],
  subnet: string,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: CLUSTER_PREFIX });
  await Deno.writeTextFile(`${dir}/owner.pid`, String(Deno.pid));
  Object.assign(cluster, { port: freePort(), dir, dataDir: `${dir}/data` });
  const bin = cluster.bin;
  await must("chown", ["postgres", dir]);
  await runAsPostgres(
    `${bin}/initdb -D ${cluster.dataDir} -A trust -U postgres --no-sync >/dev/null`,
    "initdb",
  );
  // Settings in the file, not on pg_ctl's command line, so `pg_ctl restart` keeps them.
  await Deno.writeTextFile(
    `${cluster.dataDir}/postgresql.conf`,
    [
      "",
      `listen_addresses = '${listen.join(",")}'`,
      `port = ${cluster.port}`,
      `unix_socket_directories = '${dir}'`,
      "fsync = off",
      "synchronous_commit = off",
      "full_page_writes = off",
      "max_connections = 150",
      "",
    ].join("\n"),
    { append: true },
  );
  await Deno.writeTextFile(
    `${cluster.dataDir}/pg_hba.conf`,
    `host all all ${subnet}.0/24 trust\n`,
    { append: true },
  );
  cluster.started = true;
  await pgCtl(cluster, "start");
}

function pgCtl(
  cluster: LabCluster,
  action: "start" | "stop" | "restart",
  mode = "fast",
): Promise<void> {
  return runAsPostgres(
    `${cluster.bin}/pg_ctl -D ${cluster.dataDir} -l ${cluster.dir}/server.log -m ${mode} -w -t 30 ${action}`,
    `pg_ctl ${action}`,
  );
}

function stopClusterSync(cluster: LabCluster): void {
  if (cluster.started) {
    asPostgres(`${cluster.bin}/pg_ctl -D ${cluster.dataDir} -m immediate stop`).outputSync();
    cluster.started = false;
  }
  if (cluster.dir === "") return;
  try {
    Deno.removeSync(cluster.dir, { recursive: true });
  } catch { /* already gone */ }
}

// ---------------------------------------------------------------------------
// Hosts

/** One simulated host: a network namespace with a veth pair to the root namespace. */
export interface Host {
  /** `host1`, `host2`…: also the `QUEUECTL_HOST_ID` of its workers. */
  readonly name: string;
  /** The namespace's name. */
  readonly ns: string;
  /** The root side of the pair (what a cut takes down). */
  readonly link: string;
  /** The root side's address: where this host reaches the server. */
  readonly serverAddr: string;
  /** The host's own address inside its namespace. */
  readonly addr: string;
}

/** What every multi-host test file shares: its hosts, its cluster, a folder. */
interface Lab {
  hosts: Host[];
  cluster: LabCluster;
  subnet: string;
  dir: string;
  workers: Set<HostWorker>;
}

function makeHostsSync(count: number, subnet: string, tag: string): Host[] {
  const hosts: Host[] = [];
  for (let i = 1; i <= count; i++) {
    const host: Host = {
      name: `host${i}`,
      ns: `${NS_PREFIX}${Deno.pid}x${tag}-h${i}`,
      link: `qc${tag}h${i}`,
      serverAddr: `${subnet}.${4 * i + 1}`,
      addr: `${subnet}.${4 * i + 2}`,
    };
    hosts.push(host);
    const peer = `qc${tag}p${i}`;
    const steps: string[][] = [
      ["netns", "add", host.ns],
      ["link", "add", host.link, "type", "veth", "peer", "name", peer],
      ["link", "set", peer, "netns", host.ns],
      ["addr", "add", `${host.serverAddr}/30`, "dev", host.link],
      ["link", "set", host.link, "up"],
      ["-n", host.ns, "addr", "add", `${host.addr}/30`, "dev", peer],
      ["-n", host.ns, "link", "set", peer, "up"],
      ["-n", host.ns, "link", "set", "lo", "up"],
    ];
    for (const step of steps) {
      const out = runSync("ip", step);
      if (out.code !== 0) {
        throw new Error(`ip ${step.join(" ")} failed: ${out.stderr.trim()}`);
      }
    }
  }
  return hosts;
}

function teardownSync(lab: Lab): void {
  for (const worker of lab.workers) worker.killSync();
  for (const host of lab.hosts) {
    killNamespaceSync(host.ns);
    runSync("ip", ["netns", "del", host.ns]);
    runSync("ip", ["link", "del", host.link]); // gone with its peer, normally
  }
  stopClusterSync(lab.cluster);
  try {
    Deno.removeSync(lab.dir, { recursive: true });
  } catch { /* already gone */ }
}

let labPromise: Promise<Lab> | null = null;
let labHosts = 0;

/** The file's lab, made on first use and removed at `unload`. */
function lab(hosts: number): Promise<Lab> {
  if (labPromise !== null && labHosts >= hosts) return labPromise;
  if (labPromise !== null) throw new Error("Every multi-host test of a file uses one host count");
  labHosts = hosts;
  labPromise = (async () => {
    const bin = findPostgresBin()!;
    sweepLeftovers(bin);
    const subnet = pickSubnet();
    const tag = randomHex(2);
    const partial: Lab = {
      hosts: [],
      cluster: { port: 0, bin, dir: "", dataDir: "", started: false },
      subnet,
      dir: await Deno.makeTempDir({ prefix: DIR_PREFIX }),
      workers: new Set(),
    };
    await Deno.writeTextFile(`${partial.dir}/owner.pid`, String(Deno.pid));
    globalThis.addEventListener("unload", () => teardownSync(partial));
    try {
      partial.hosts = makeHostsSync(hosts, subnet, tag);
    } catch (error) {
      // Remove the hosts made so far: teardown knows them only once all are made.
      for (let i = 1; i <= hosts; i++) {
        const ns = `${NS_PREFIX}${Deno.pid}x${tag}-h${i}`;
        runSync("ip", ["netns", "del", ns]);
        runSync("ip", ["link", "del", `qc${tag}h${i}`]);
      }
      throw error;
    }
    await startLabCluster(
      partial.cluster,
      ["127.0.0.1", ...partial.hosts.map((h) => h.serverAddr)],
      subnet,
    );
    return partial;
  })();
  return labPromise;
}

// ---------------------------------------------------------------------------
// Worker processes on a host

/** A `queuectl worker start` running on a host; stopped and awaited by the test's clean-up. */
export interface HostWorker {
  readonly host: Host;
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Whether it has exited. */
  exited(): boolean;
  stdout(): string;
  stderr(): string;
  /** Its host, pid and the end of both outputs, for failure messages. */
  log(maxChars?: number): string;
  /** Sends a signal (ignored once it has exited). */
  kill(signal: Deno.Signal): void;
  /** SIGKILL, synchronous (for `unload`). */
  killSync(): void;
  /** Waits until stdout matches `pattern`; fails naming what it printed. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Graceful stop (SIGTERM), then a forced one, then SIGKILL; awaits the exit and its output. */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Options of {@linkcode MultihostContext.startWorker}. */
export interface StartWorkerOptions {
  /** Arguments after `worker start` (default `--count 4`). */
  args?: string[];
  /** More environment (e.g. a test-only clock skew). */
  env?: Record<string, string>;
  /** Wait for the supervisor's start line (default true). */
  waitStarted?: boolean;
  /**
   * Run it in a pid namespace of its own (`unshare --pid`, as pid 1 with
   * its own /proc): another machine, as far as pids go (default false).
   */
  pidNamespace?: boolean;
}

async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function tail(text: string, max: number): string {
  return text.length <= max ? text : `…${text.slice(-max)}`;
}

function spawnWorker(
  lab: Lab,
  host: Host,
  db: string,
  options: StartWorkerOptions,
): HostWorker {
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      host.ns,
      ...(options.pidNamespace
        ? ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]
        : []),
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      MAIN,
      "worker",
      "start",
      ...(options.args ?? ["--count", "4"]),
    ],
    env: {
      NO_COLOR: "1",
      QUEUECTL_DB: db,
      QUEUECTL_HOST_ID: host.name,
      QUEUECTL_TEST_CLOCK_SKEW_MS: "0",
      // Which namespace a job ran in, for its event lines, whatever the host id.
      QCTL_TEST_HOST: host.name,
      ...options.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const watched = watchChild(child);
  const { status, reading, kill } = watched;
  let stopping: Promise<Deno.CommandStatus> | undefined;
  const worker: HostWorker = {
    host,
    pid: child.pid,
    status,
    exited: watched.exited,
    stdout: watched.stdout,
    stderr: watched.stderr,
    log: (max = 4000) =>
      `${host.name} worker pid ${child.pid}${watched.exited() ? " (exited)" : ""}; stdout:\n${
        tail(watched.stdout(), max)
      }\nstderr:\n${tail(watched.stderr(), max)}`,
    kill,
    killSync: () => kill("SIGKILL"),
    async waitForOutput(pattern, timeoutMs = 20_000) {
      try {
        await waitFor(() => pattern.test(watched.stdout()) || watched.exited(), {
          timeoutMs,
          intervalMs: 50,
        });
      } catch {
        throw new Error(`${host.name}: no ${pattern} within ${timeoutMs} ms\n${worker.log()}`);
      }
      if (pattern.test(watched.stdout())) return;
      await within(reading, 2000);
      if (pattern.test(watched.stdout())) return;
      const { code, signal } = await status;
      throw new Error(
        `${host.name}: the worker exited (code ${code}, signal ${signal}) before printing ${pattern}\n${worker.log()}`,
      );
    },
    stop(graceMs = 5000) {
      return stopping ??= (async () => {
        if (!watched.exited()) {
          kill("SIGTERM");
          if (!(await within(status, graceMs))) {
            kill("SIGTERM"); // the second signal ends running jobs at once
            if (!(await within(status, 3000))) kill("SIGKILL");
          }
        }
        const result = await status;
        // Jobs left in the namespace could hold nothing of ours, but bound the wait anyway.
        await within(reading, 5000);
        lab.workers.delete(worker);
        return result;
      })();
    },
  };
  lab.workers.add(worker);
  return worker;
}

// ---------------------------------------------------------------------------
// Tests

/** What a multi-host test gets: hosts, a fresh schema on the file's cluster, a folder. */
export interface MultihostContext {
  readonly hosts: Host[];
  /** The database for this process (127.0.0.1), on a fresh schema. */
  readonly db: string;
  /** The schema's name (quoted in SQL by {@linkcode MultihostContext.admin} callers). */
  readonly schema: string;
  /** A folder on the shared disk, removed after the test. */
  readonly dir: string;
  /** The hosts' private /24, as `10.2xx.yyy.0/24`. */
  readonly subnet: string;
  /** The database as `host` reaches it: the root side of its link. */
  urlFor(host: Host): string;
  /** Starts `worker start --count 4` on `host` (`QUEUECTL_HOST_ID` = its name). */
  startWorker(host: Host, options?: StartWorkerOptions): Promise<HostWorker>;
  /** Takes the host's link down: it cannot reach the server, nor the server it. */
  cut(host: Host): Promise<void>;
  /** Brings the host's link back. */
  restore(host: Host): Promise<void>;
  /** `pg_ctl restart -m <mode>` of the file's cluster. */
  restartServer(mode?: "fast" | "immediate"): Promise<void>;
  /** `pg_ctl stop -m <mode>`: the server is gone until {@linkcode MultihostContext.startServer}. */
  stopServer(mode?: "fast" | "immediate"): Promise<void>;
  /** `pg_ctl start` after {@linkcode MultihostContext.stopServer}. */
  startServer(): Promise<void>;
  /** Runs SQL as the admin user (search_path = the test's schema); returns the rows. */
  admin(sql: string, args?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Every worker started in this test, for failure messages. */
  logs(): string;
}

/** Options of {@linkcode multihostTest}. */
export interface MultihostOptions {
  /** How many hosts the file's lab has (every test of a file passes the same). */
  hosts?: number;
  ignore?: boolean;
}

/**
 * Registers a multi-host test: ignored (with the file's NOT RUN line) when
 * namespaces or PostgreSQL are unavailable. After the test, whatever it
 * did: its workers are stopped, every process left in the hosts'
 * namespaces is killed, every link is up again, and its schema is dropped.
 */
export function multihostTest(
  name: string,
  fn: (t: MultihostContext) => Promise<void>,
  options: MultihostOptions = {},
): void {
  Deno.test({
    name,
    ignore: options.ignore || netnsNotRun !== null,
    async fn() {
      const theLab = await lab(options.hosts ?? 3);
      const schema = `t_${randomHex(8)}`;
      const port = theLab.cluster.port;
      const url = (addr: string) => `postgres://postgres@${addr}:${port}/postgres?schema=${schema}`;
      const dir = await Deno.makeTempDir({ dir: theLab.dir, prefix: "t-" });
      const started: HostWorker[] = [];
      const ctx: MultihostContext = {
        hosts: theLab.hosts.slice(0, options.hosts ?? 3),
        db: url("127.0.0.1"),
        schema,
        dir,
        subnet: `${theLab.subnet}.0/24`,
        urlFor: (host) => url(host.serverAddr),
        async startWorker(host, startOptions = {}) {
          const worker = spawnWorker(theLab, host, url(host.serverAddr), startOptions);
          started.push(worker);
          if (startOptions.waitStarted ?? true) {
            await worker.waitForOutput(/^supervisor \S+ started/m, 30_000);
          }
          return worker;
        },
        async cut(host) {
          await must("ip", ["link", "set", host.link, "down"]);
        },
        async restore(host) {
          await must("ip", ["link", "set", host.link, "up"]);
        },
        restartServer: (mode = "fast") => pgCtl(theLab.cluster, "restart", mode),
        stopServer: (mode = "fast") => pgCtl(theLab.cluster, "stop", mode),
        startServer: () => pgCtl(theLab.cluster, "start"),
        async admin(query, args = []) {
          const sql = postgres(`postgres://postgres@127.0.0.1:${port}/postgres`, {
            max: 1,
            onnotice: () => {},
            connect_timeout: 5,
            connection: { search_path: schema, application_name: "queuectl-test-admin" },
          });
          try {
            return [
              ...await sql.unsafe(query, args as postgres.ParameterOrJSON<never>[]),
            ] as Record<
              string,
              unknown
            >[];
          } finally {
            await sql.end({ timeout: 1 });
          }
        },
        logs: () => started.map((w) => w.log()).join("\n"),
      };
      try {
        await fn(ctx);
      } finally {
        // A test that stopped the server and failed before starting it again.
        await pgCtl(theLab.cluster, "start").catch(() => {});
        for (const host of theLab.hosts) {
          await run("ip", ["link", "set", host.link, "up"]);
        }
        await Promise.all(started.map((w) => w.stop(2000)));
        for (const host of theLab.hosts) await killNamespace(host.ns);
        await ctx.admin(`DO $$ BEGIN
            PERFORM set_config('lock_timeout', '10s', true);
            DROP SCHEMA IF EXISTS "${schema}" CASCADE;
          END $$`).catch(() => {});
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}
