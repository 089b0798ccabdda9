/**
 * `queuectl worker service`: prints a systemd unit that runs `worker start`
 * for the current database (README "Running workers as a service";
 * DESIGN.md "Install and service").
 */
import { CONFIG_KEYS } from "../lib/config.ts";
import { UsageError } from "../lib/errors.ts";
import { parseCount, parseQueues } from "../lib/options.ts";
import { resolveDbLocation } from "../lib/storage/open_storage.ts";
import { isPostgresUrl } from "../lib/storage/postgres/url.ts";
import type { CliContext } from "./_context.ts";

/** Options of `worker service`, as given on the command line. */
export interface WorkerServiceOptions {
  count: string;
  queue?: readonly string[] | undefined;
  name: string;
}

/** The unit's name when `--name` is absent. */
export const DEFAULT_SERVICE_NAME = "queuectl-worker";

/**
 * How long systemd waits after SIGTERM before it kills what is left: longer
 * than a graceful stop, in which running jobs finish within their timeout
 * (`job_timeout`, 60 s unless changed), plus the 3 s a timed-out job's group
 * gets between SIGTERM and SIGKILL, plus the last writes.
 */
export const STOP_TIMEOUT_S = CONFIG_KEYS.job_timeout.default + 30;

/** The folders systemd gives a service when it names no PATH. */
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The service's PATH: the folder of `deno` first, then systemd's own, each once. */
export function servicePath(deno: string): string {
  const dirs = [deno.slice(0, deno.lastIndexOf("/")) || "/", ...SYSTEM_PATH.split(":")];
  return [...new Set(dirs)].join(":");
}

/** Everything a unit is made of. */
export interface ServiceUnit {
  name: string;
  /** The program and its leading arguments: `worker start …` follows. */
  exec: string[];
  count: number;
  queues: string[] | null;
  user: string;
  workingDirectory: string;
  /** The file holding `QUEUECTL_DB` (and a password, if any). */
  environmentFile: string;
  /** PATH of the service: the folder of deno first, for the installed wrapper. */
  path: string;
  /** Extra environment, e.g. DENO_DIR when the caller set it. */
  environment: Record<string, string>;
}

/** Checks `--name`: a systemd unit name without `.service`. */
export function parseServiceName(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/.test(value) || value.endsWith(".service")) {
    throw new UsageError(
      `Invalid service name "${value}"`,
      "use 1-100 characters of A-Z a-z 0-9 . _ : -, without .service",
    );
  }
  return value;
}

/** `%` and `$` are systemd's specifier and variable signs: doubled, they stand for themselves. */
function escapeSigns(text: string): string {
  return text.replaceAll("%", "%%").replaceAll("$", "$$$$");
}

/** One word of a systemd command line or assignment, quoted when it needs it. */
export function systemdWord(word: string): string {
  const escaped = escapeSigns(word);
  if (/^[A-Za-z0-9_.,:\/@+=%$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** The unit file's text. */
export function serviceUnitText(unit: ServiceUnit): string {
  const args = [...unit.exec, "worker", "start", "--count", String(unit.count)];
  for (const q of unit.queues ?? []) args.push("--queue", q);
  const env = { PATH: unit.path, NO_COLOR: "1", ...unit.environment };
  return [
    `# ${unit.name}.service: queuectl workers (README "Running workers as a service").`,
    `# Install as /etc/systemd/system/${unit.name}.service. The database is named in`,
    `# ${unit.environmentFile} as QUEUECTL_DB=... (with PGPASSWORD=... if it needs a password).`,
    "[Unit]",
    `Description=queuectl workers (${unit.name})`,
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=exec",
    `User=${escapeSigns(unit.user)}`,
    `WorkingDirectory=${escapeSigns(unit.workingDirectory)}`,
    `EnvironmentFile=${escapeSigns(unit.environmentFile)}`,
    ...Object.entries(env).map(([k, v]) => `Environment=${systemdWord(`${k}=${v}`)}`),
    `ExecStart=${args.map(systemdWord).join(" ")}`,
    "Restart=on-failure",
    "RestartSec=2",
    "# Stop: SIGTERM to the worker alone, which claims nothing more and lets",
    "# running jobs finish; after TimeoutStopSec, and as soon as the worker has",
    "# exited, SIGKILL ends whatever is left of its jobs with the service.",
    "KillMode=mixed",
    "KillSignal=SIGTERM",
    "SendSIGKILL=yes",
    `TimeoutStopSec=${STOP_TIMEOUT_S}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** `file://…/main.ts` of this checkout: what an installed wrapper runs. */
const MAIN_URL = new URL("../main.ts", import.meta.url);

/**
 * The installed `queuectl` that runs this checkout (from `deno task
 * install`): on PATH, else in deno's install folders; `null` when none.
 */
function installedQueuectl(): string | null {
  const home = Deno.env.get("HOME");
  const dirs = [
    ...(Deno.env.get("PATH") ?? "").split(":"),
    `${Deno.env.get("DENO_INSTALL_ROOT") ?? ""}/bin`,
    ...(home ? [`${home}/.deno/bin`] : []),
  ];
  for (const dir of dirs) {
    if (!dir.startsWith("/")) continue;
    const file = `${dir.replace(/\/+$/, "")}/queuectl`;
    try {
      if (Deno.statSync(file).size > 4096) continue;
      if (Deno.readTextFileSync(file).includes(MAIN_URL.href)) return file;
    } catch { /* not there */ }
  }
  return null;
}

/**
 * What `ExecStart` runs: a compiled queuectl itself; else the installed
 * `queuectl`; else deno with this checkout's config and main.ts. Always an
 * absolute path, as systemd wants.
 */
function execCommand(): string[] {
  const exec = Deno.execPath();
  if (!/(^|\/)deno(\.exe)?$/.test(exec)) return [exec];
  const installed = installedQueuectl();
  if (installed) return [installed];
  const root = new URL(".", MAIN_URL).pathname;
  return [exec, "run", "-A", "--config", `${root}deno.json`, MAIN_URL.pathname];
}

/** `location` made absolute (a relative SQLite path is the caller's cwd's). */
function absoluteDb(location: string): string {
  if (isPostgresUrl(location) || location.startsWith("/") || location === ":memory:") {
    return location;
  }
  return `${Deno.cwd()}/${location}`;
}

/**
 * The lines of the environment file for `location`, never with a password:
 * a URL's is taken out and stands as `PGPASSWORD=…` for the reader to fill.
 */
export function environmentFileLines(location: string): string[] {
  if (!isPostgresUrl(location)) return [`QUEUECTL_DB=${envFileValue(location)}`];
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return ["QUEUECTL_DB=postgres://user@host:5432/database"];
  }
  const password = url.password !== "";
  url.password = "";
  return [`QUEUECTL_DB=${envFileValue(url.href)}`, ...(password ? ["PGPASSWORD=…"] : [])];
}

/** A value of an environment file, in double quotes when it needs them. */
function envFileValue(value: string): string {
  if (/^[A-Za-z0-9_.,:\/@+=%?&-]+$/.test(value)) return value;
  return `"${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

/** The user the service runs as: whoever asks for the unit. */
function serviceUser(): string {
  const uid = Deno.uid();
  if (uid === 0) return "root";
  return Deno.env.get("USER") || Deno.env.get("LOGNAME") || String(uid ?? "root");
}

/** Prints the unit on stdout and how to install it on stderr. */
export function workerService(ctx: CliContext, options: WorkerServiceOptions): void {
  const count = parseCount(options.count);
  const queues = parseQueues(options.queue);
  const name = parseServiceName(options.name);
  if (ctx.db === ":memory:" || Deno.env.get("QUEUECTL_DB") === ":memory:") {
    throw new UsageError("A service cannot run on an in-memory database", "pass --db");
  }
  const db = absoluteDb(resolveDbLocation(ctx.db));
  const exec = execCommand();
  const denoDir = Deno.env.get("DENO_DIR");
  const environmentFile = `/etc/queuectl/${name}.env`;
  const unit: ServiceUnit = {
    name,
    exec,
    count,
    queues,
    user: serviceUser(),
    workingDirectory: Deno.cwd(),
    environmentFile,
    path: servicePath(Deno.execPath()),
    environment: denoDir ? { DENO_DIR: denoDir } : {},
  };
  ctx.out(serviceUnitText(unit).trimEnd());
  ctx.err(
    [
      `# save it as /etc/systemd/system/${name}.service, then put the database in ${environmentFile}`,
      `# (mode 600, it may hold a password):`,
      ...environmentFileLines(db).map((line) => `#   ${line}`),
      `# and run: systemctl daemon-reload && systemctl enable --now ${name}`,
    ].join("\n"),
  );
}
