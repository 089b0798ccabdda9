/**
 * queuectl: a background job queue of shell commands.
 *
 * This file is the command tree only: flags, arguments, help and examples,
 * built with @stricli/core (a dependency-free command library that loads in
 * a few milliseconds; see DESIGN.md "Command line"). Each command lazily
 * imports a plain function from `cli/<command>.ts`, so a command loads only
 * what it needs. Errors are mapped to exit codes here and nowhere else.
 */
import {
  type ApplicationText,
  buildApplication,
  buildCommand,
  buildRouteMap,
  ExitCode,
  formatMessageForArgumentScannerError,
  help,
  run as runApplication,
  text_en,
  version,
} from "@stricli/core";
import denoJson from "./deno.json" with { type: "json" };
import { type CliContext, writeAll } from "./cli/_context.ts";
import * as controls from "./cli/_controls_commands.ts";
import {
  arg,
  type Context,
  defaultFlag,
  docs,
  load,
  repeatFlag,
  switchFlag,
  valueFlag,
} from "./cli/_tree.ts";
import { errorLine, errorMessage, QueuectlError, UsageError } from "./lib/errors.ts";
import { prefetchStorage, resolveDbLocation } from "./lib/storage/open_storage.ts";

// ---------------------------------------------------------------------------
// Global options. They may stand anywhere before `--` (`queuectl --db x list`
// or `queuectl list --db x`), so they are taken out before routing; the
// command library has no options shared by every command.

interface GlobalOptions {
  db: string | undefined;
  noColor: boolean;
  debug: boolean;
}

const GLOBAL_HELP = `Global options (before or after the command):
  --db <path>  database file (env QUEUECTL_DB; default ~/.local/share/queuectl/queue.db)
  --no-color   no colours in output (also NO_COLOR)
  --debug      show stack traces of errors`;

/** Splits the global options off `argv`; the rest goes to the command tree. */
function takeGlobalOptions(argv: string[]): { globals: GlobalOptions; rest: string[] } {
  const globals: GlobalOptions = { db: undefined, noColor: false, debug: false };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === "--no-color") globals.noColor = true;
    else if (arg === "--debug") globals.debug = true;
    else if (arg === "--db" || arg.startsWith("--db=")) {
      const value = arg === "--db" ? argv[++i] : arg.slice("--db=".length);
      if (!value) throw new UsageError("--db needs a path", "e.g. --db ./queue.db");
      globals.db = value;
    } else rest.push(arg);
  }
  return { globals, rest };
}

// ---------------------------------------------------------------------------
// The tree.

const enqueue = buildCommand({
  docs: docs(
    "add a job from JSON, many from an NDJSON file, or one from a command line",
    `queuectl enqueue '{"id":"job1","command":"echo hello"}'`,
    `queuectl enqueue '{"id":"fail1","command":"bash -c \\"exit 1\\"","max_retries":2}'`,
    "queuectl enqueue --file jobs.ndjson",
    'queuectl enqueue --priority 5 --delay 5m -- tar czf backup.tgz "My Documents"',
    "queuectl enqueue --id report --after fetch-a --after fetch-b -- make report",
    "queuectl enqueue --key nightly --on-conflict replace --retry-on 75,timeout -- ./sync.sh",
    "queuectl enqueue --wait -- make test",
    "queuectl enqueue --queue api --group host-a --expires-in 10m -- ./call.sh",
    "queuectl enqueue --after-any batch-1 --after-any batch-2 -- ./cleanup.sh",
    "queuectl enqueue --tag batch7 --tag nightly --hold -- ./import.sh",
  ),
  parameters: {
    flags: {
      file: valueFlag(
        "add one job per line of this NDJSON file (- for stdin), all or none",
        "path",
      ),
      id: valueFlag("job id (with -- <cmd>)", "id"),
      priority: valueFlag("higher runs first (with -- <cmd>)", "n"),
      delay: valueFlag('run after this delay, e.g. 30, "90s", "1h30m" (with -- <cmd>)', "duration"),
      runAt: valueFlag("run at this ISO-8601 time (with -- <cmd>)", "time"),
      timeout: valueFlag("time limit in seconds; 0 for none (with -- <cmd>)", "seconds"),
      maxRetries: valueFlag("retries after the first attempt (with -- <cmd>)", "n"),
      queue: valueFlag("queue name (with -- <cmd>)", "name"),
      after: {
        ...valueFlag("run only after this job completed (repeatable; with -- <cmd>)", "id"),
        variadic: true,
      },
      key: valueFlag("unique key: one active job per key (with -- <cmd>)", "key"),
      tag: repeatFlag("a tag to find the job by (repeatable; with -- <cmd>)", "tag"),
      retryOn: valueFlag(
        "retry only these failures: exit codes and/or timeout, e.g. 75,timeout (with -- <cmd>)",
        "list",
      ),
      group: valueFlag("group: a queue's --group-concurrency caps each group", "name"),
      backoffBase: valueFlag("this job's backoff base (>= 1) instead of the setting", "n"),
      backoffMax: valueFlag("this job's longest retry delay in seconds", "seconds"),
      expiresAt: valueFlag("cancel the job if it has not started by this ISO time", "time"),
      expiresIn: valueFlag(
        'cancel the job if it has not started within this, e.g. "10m"',
        "duration",
      ),
      afterAny: {
        ...valueFlag("run after this job ended, whatever its outcome (repeatable)", "id"),
        variadic: true,
      },
      uniqueFor: valueFlag(
        'with --key: keep the key taken this long after enqueue, e.g. "1h"',
        "duration",
      ),
      onConflict: valueFlag(
        "when the key is taken by an active job: keep, replace or fail",
        "rule",
      ),
      hold: switchFlag("add the jobs held: never started until released"),
      wait: switchFlag("then wait until the jobs are final; exit 0 only if all completed"),
      waitTimeout: valueFlag('with --wait: give up after this long, e.g. "10m"', "duration"),
      json: switchFlag("print the job (or jobs) as JSON"),
    },
    aliases: { f: "file" },
    positional: {
      kind: "array",
      parameter: arg("job", "a job as a JSON object, or the command after --"),
    },
  },
  async func(
    this: Context,
    flags: {
      file?: string;
      id?: string;
      priority?: string;
      delay?: string;
      runAt?: string;
      timeout?: string;
      maxRetries?: string;
      queue?: string;
      after?: readonly string[];
      key?: string;
      tag?: readonly string[];
      retryOn?: string;
      group?: string;
      backoffBase?: string;
      backoffMax?: string;
      expiresAt?: string;
      expiresIn?: string;
      afterAny?: readonly string[];
      uniqueFor?: string;
      onConflict?: string;
      hold?: boolean;
      wait?: boolean;
      waitTimeout?: string;
      json?: boolean;
    },
    ...job: string[]
  ) {
    const { enqueueCommand, enqueueFile, enqueueJson } = await load<
      typeof import("./cli/enqueue.ts")
    >("enqueue");
    const { file, json, onConflict, hold, wait, waitTimeout, ...jobOptions } = flags;
    const common = { json: json === true, onConflict, hold, wait, waitTimeout };
    const hasJobOptions = Object.values(jobOptions).some((v) => v !== undefined);
    if (file !== undefined) {
      if (job.length > 0 || hasJobOptions) {
        throw new UsageError(
          "--file takes no other job or job options",
          "put every job in the file",
        );
      }
      return await enqueueFile(this.cli, file, common);
    }
    if (this.dashDash) return await enqueueCommand(this.cli, job, jobOptions, common);
    if (hasJobOptions) {
      throw new UsageError(
        "Job options need the command after --",
        "e.g. queuectl enqueue --priority 5 -- echo hi, or put the fields in the JSON",
      );
    }
    if (job.length !== 1) {
      throw new UsageError(
        job.length === 0 ? "Nothing to enqueue" : "Give the job as one JSON argument",
        `quote the JSON, e.g. '{"command":"echo hi"}', or use -- <command...>`,
      );
    }
    await enqueueJson(this.cli, job[0]!, common);
  },
});

const wait = buildCommand({
  docs: docs(
    "wait until jobs are final; exit 0 only if all completed, 1 if any ended dead or cancelled",
    "queuectl wait job1 job2",
    "queuectl wait build --timeout 10m --json",
  ),
  parameters: {
    flags: {
      timeout: valueFlag('give up after this long (exit 1), e.g. "90s", "10m"', "duration"),
      json: switchFlag("print the array of jobs as they ended"),
    },
    positional: { kind: "array", parameter: arg("id", "job ids"), minimum: 1 },
  },
  async func(this: Context, flags: { timeout?: string; json?: boolean }, ...ids: string[]) {
    const { wait } = await load<typeof import("./cli/wait.ts")>("wait");
    await wait(this.cli, ids, flags, flags.json === true);
  },
});

const workerStart = buildCommand({
  docs: docs(
    "run workers in this process until stopped (Ctrl-C: finish running jobs, then exit)",
    "queuectl worker start --count 4",
    "queuectl worker start --queue mail --queue report",
    "queuectl worker start --detach",
  ),
  parameters: {
    flags: {
      count: defaultFlag("jobs run at once (Web Workers)", "n", "1"),
      queue: { ...valueFlag("serve only this queue (repeatable)", "name"), variadic: true },
      detach: switchFlag("run in the background; output goes to a log file beside the database"),
    },
    aliases: { c: "count", q: "queue", d: "detach" },
  },
  async func(this: Context, flags: { count: string; queue?: readonly string[]; detach?: boolean }) {
    const { workerStart } = await load<typeof import("./cli/worker_start.ts")>("worker_start");
    await workerStart(this.cli, flags);
  },
});

const workerService = buildCommand({
  docs: docs(
    "print a systemd unit that runs worker start for this database, restarted on failure",
    "queuectl worker service --count 4 > /etc/systemd/system/queuectl-worker.service",
    "queuectl worker service --queue mail --name queuectl-mail",
  ),
  parameters: {
    flags: {
      count: defaultFlag("jobs run at once (Web Workers)", "n", "1"),
      queue: { ...valueFlag("serve only this queue (repeatable)", "name"), variadic: true },
      name: defaultFlag("the unit's name (and its environment file's)", "name", "queuectl-worker"),
    },
    aliases: { c: "count", q: "queue" },
  },
  async func(this: Context, flags: { count: string; queue?: readonly string[]; name: string }) {
    const { workerService } = await load<typeof import("./cli/worker_service.ts")>(
      "worker_service",
    );
    workerService(this.cli, flags);
  },
});

const workerStop = buildCommand({
  docs: docs(
    "stop every worker using this database: running jobs finish first",
    "queuectl worker stop",
    "queuectl worker stop --force",
  ),
  parameters: {
    flags: {
      timeout: defaultFlag("how long to wait for them to exit", "seconds", "60"),
      force: switchFlag("end running jobs at once and put them back as pending"),
    },
  },
  async func(this: Context, flags: { timeout: string; force?: boolean }) {
    const { workerStop } = await load<typeof import("./cli/worker_stop.ts")>("worker_stop");
    await workerStop(this.cli, flags);
  },
});

const workerList = buildCommand({
  docs: docs(
    "running worker processes: id, pid, host, started, current jobs",
    "queuectl worker list",
  ),
  parameters: { flags: { json: switchFlag("print a JSON array") } },
  async func(this: Context, flags: { json?: boolean }) {
    const { workerList } = await load<typeof import("./cli/worker_list.ts")>("worker_list");
    await workerList(this.cli, flags.json === true);
  },
});

const status = buildCommand({
  docs: docs(
    "counts per state, active workers, next retry, throughput, the database in use",
    "queuectl status",
    "queuectl status --json",
  ),
  parameters: { flags: { json: switchFlag("print the status document") } },
  async func(this: Context, flags: { json?: boolean }) {
    const { status } = await load<typeof import("./cli/status.ts")>("status");
    await status(this.cli, flags.json === true);
  },
});

const list = buildCommand({
  docs: docs(
    "jobs, newest first",
    "queuectl list --state pending",
    "queuectl list --limit 10 --json",
  ),
  parameters: {
    flags: {
      state: valueFlag("only jobs in this state", "state"),
      queue: valueFlag("only jobs of this queue", "name"),
      tag: repeatFlag("only jobs with this tag (repeatable: all must match)", "tag"),
      limit: defaultFlag("at most this many jobs", "n", "50"),
      json: switchFlag("print a JSON array of jobs"),
    },
  },
  async func(
    this: Context,
    flags: {
      state?: string;
      queue?: string;
      tag?: readonly string[];
      limit: string;
      json?: boolean;
    },
  ) {
    const { list } = await load<typeof import("./cli/list.ts")>("list");
    await list(this.cli, flags, flags.json === true);
  },
});

const show = buildCommand({
  docs: docs("one job: every field and every attempt", "queuectl show job1"),
  parameters: {
    flags: { json: switchFlag("print the job with its runs") },
    positional: { kind: "tuple", parameters: [arg("id", "job id")] },
  },
  async func(this: Context, flags: { json?: boolean }, id: string) {
    const { show } = await load<typeof import("./cli/show.ts")>("show");
    await show(this.cli, id, flags.json === true);
  },
});

const logs = buildCommand({
  docs: docs(
    "the captured output of a job's latest attempt (stdout to stdout, stderr to stderr)",
    "queuectl logs job1",
    "queuectl logs job1 --attempt 2 --json",
  ),
  parameters: {
    flags: {
      attempt: valueFlag("this attempt instead of the latest", "n"),
      follow: switchFlag("keep printing while the attempt runs"),
      json: switchFlag("print { id, attempt, stdout, stderr }"),
    },
    aliases: { f: "follow" },
    positional: { kind: "tuple", parameters: [arg("id", "job id")] },
  },
  async func(
    this: Context,
    flags: { attempt?: string; follow?: boolean; json?: boolean },
    id: string,
  ) {
    const { logs } = await load<typeof import("./cli/logs.ts")>("logs");
    await logs(this.cli, id, flags, flags.json === true);
  },
});

const events = buildCommand({
  docs: docs(
    "the event log as one JSON object a line, oldest first; --follow keeps printing new ones",
    "queuectl events --since 1200",
    "queuectl events --follow --type failed --type dead | jq -r .job",
    "queuectl events --job job1",
  ),
  parameters: {
    flags: {
      follow: switchFlag("keep printing events as they commit, on any host, until interrupted"),
      since: valueFlag("only events after this seq (the last one seen)", "seq"),
      queue: { ...valueFlag("only events of this queue (repeatable)", "name"), variadic: true },
      type: { ...valueFlag("only events of this type (repeatable)", "type"), variadic: true },
      job: valueFlag("only events of this job", "id"),
    },
    aliases: { f: "follow", q: "queue", t: "type" },
  },
  async func(
    this: Context,
    flags: {
      follow?: boolean;
      since?: string;
      queue?: readonly string[];
      type?: readonly string[];
      job?: string;
    },
  ) {
    const { events } = await load<typeof import("./cli/events.ts")>("events");
    await events(this.cli, flags);
  },
});

const progress = buildCommand({
  docs: docs(
    "from inside a running job: report its progress (0-100), shown by show, list and the dashboard",
    "queuectl progress 40 --message 'copied 4 of 10 files'",
  ),
  parameters: {
    flags: { message: valueFlag("a short note shown beside the value", "text") },
    aliases: { m: "message" },
    positional: { kind: "tuple", parameters: [arg("percent", "0 to 100")] },
  },
  async func(this: Context, flags: { message?: string }, value: string) {
    const { progress } = await load<typeof import("./cli/progress.ts")>("progress");
    await progress(this.cli, value, flags);
  },
});

const dlqList = buildCommand({
  docs: docs("dead jobs, newest first", "queuectl dlq list"),
  parameters: {
    flags: {
      limit: defaultFlag("at most this many jobs", "n", "50"),
      json: switchFlag("print a JSON array of jobs"),
    },
  },
  async func(this: Context, flags: { limit: string; json?: boolean }) {
    const { dlqList } = await load<typeof import("./cli/dlq_list.ts")>("dlq_list");
    await dlqList(this.cli, flags, flags.json === true);
  },
});

const dlqRetry = buildCommand({
  docs: docs(
    "move dead jobs back to pending with attempts reset",
    "queuectl dlq retry fail1",
    "queuectl dlq retry --all",
  ),
  parameters: {
    flags: { all: switchFlag("every dead job") },
    positional: { kind: "array", parameter: arg("id", "job ids") },
  },
  async func(this: Context, flags: { all?: boolean }, ...ids: string[]) {
    const { dlqRetry } = await load<typeof import("./cli/dlq_retry.ts")>("dlq_retry");
    await dlqRetry(this.cli, ids, flags.all === true);
  },
});

const dlqPurge = buildCommand({
  docs: docs(
    "delete dead jobs and their history; prints how many",
    "queuectl dlq purge",
    "queuectl dlq purge --older-than 7d",
  ),
  parameters: {
    flags: {
      olderThan: valueFlag('only jobs dead for longer than this, e.g. "7d"', "duration"),
    },
  },
  async func(this: Context, flags: { olderThan?: string }) {
    const { dlqPurge } = await load<typeof import("./cli/dlq_purge.ts")>("dlq_purge");
    await dlqPurge(this.cli, flags);
  },
});

const configList = buildCommand({
  docs: docs("every setting with its value", "queuectl config list"),
  parameters: { flags: { json: switchFlag("print { key: value, ... }") } },
  async func(this: Context, flags: { json?: boolean }) {
    const { configList } = await load<typeof import("./cli/config_list.ts")>("config_list");
    await configList(this.cli, flags.json === true);
  },
});

const configGet = buildCommand({
  docs: docs("one setting", "queuectl config get max_retries"),
  parameters: {
    flags: { json: switchFlag("print { key: value }") },
    positional: {
      kind: "tuple",
      parameters: [arg("key", "setting name (max_retries or max-retries)")],
    },
  },
  async func(this: Context, flags: { json?: boolean }, key: string) {
    const { configGet } = await load<typeof import("./cli/config_get.ts")>("config_get");
    await configGet(this.cli, key, flags.json === true);
  },
});

const configSet = buildCommand({
  docs: docs(
    "change a setting; running workers see it without a restart",
    "queuectl config set max_retries 5",
    "queuectl config set backoff-base 3",
  ),
  parameters: {
    positional: {
      kind: "tuple",
      parameters: [arg("key", "setting name"), arg("value", "new value")],
    },
  },
  async func(this: Context, _flags: Record<never, never>, key: string, value: string) {
    const { configSet } = await load<typeof import("./cli/config_set.ts")>("config_set");
    await configSet(this.cli, key, value);
  },
});

const dashboard = buildCommand({
  docs: docs(
    "the live web dashboard and JSON API",
    "queuectl dashboard",
    "queuectl dashboard --port 8080 --workers 2",
  ),
  parameters: {
    flags: {
      port: defaultFlag("port to listen on", "port", "5000"),
      host: defaultFlag("address to bind", "host", "127.0.0.1"),
      token: valueFlag("access token (env QUEUECTL_TOKEN; generated when absent)", "token"),
      workers: defaultFlag("run this many workers inside the dashboard process", "n", "0"),
    },
  },
  async func(
    this: Context,
    flags: { port: string; host: string; token?: string; workers: string },
  ) {
    const { dashboard } = await load<typeof import("./cli/dashboard.ts")>("dashboard");
    await dashboard(this.cli, flags);
  },
});

const scheduleAdd = buildCommand({
  docs: docs(
    "add a recurring job: each due time of a cron expression enqueues it once",
    'queuectl schedule add nightly --cron "0 3 * * *" --tz Europe/Berlin -- backup.sh /data',
    'queuectl schedule add tick --cron "*/10 * * * * *" --catch-up none -- date',
    'queuectl schedule add report --cron @hourly \'{"command":"report.sh","queue":"reports"}\'',
  ),
  parameters: {
    flags: {
      cron: valueFlag(
        "when: 5 fields, 6 with seconds first, or @hourly @daily @weekly @monthly @yearly",
        "expr",
      ),
      tz: valueFlag("time zone the expression is read in (default: this machine's)", "zone"),
      catchUp: valueFlag(
        "times missed while no worker ran: none, one (default: the latest), all (at most 1,000)",
        "mode",
      ),
      overlap: switchFlag("enqueue even while the previous job is still active"),
      priority: valueFlag("higher runs first (with -- <cmd>)", "n"),
      timeout: valueFlag("time limit in seconds; 0 for none (with -- <cmd>)", "seconds"),
      maxRetries: valueFlag("retries after the first attempt (with -- <cmd>)", "n"),
      queue: valueFlag("queue name (with -- <cmd>)", "name"),
      json: switchFlag("print the schedule as JSON"),
    },
    positional: {
      kind: "array",
      parameter: arg("name job", "the schedule's name, then its job: -- <cmd...> or JSON"),
      minimum: 1,
    },
  },
  async func(
    this: Context,
    flags: {
      cron?: string;
      tz?: string;
      catchUp?: string;
      overlap?: boolean;
      priority?: string;
      timeout?: string;
      maxRetries?: string;
      queue?: string;
      json?: boolean;
    },
    name: string,
    ...job: string[]
  ) {
    const { scheduleAdd } = await load<typeof import("./cli/schedule_add.ts")>("schedule_add");
    const { json, ...options } = flags;
    await scheduleAdd(this.cli, name, job, options, this.dashDash, json === true);
  },
});

const scheduleList = buildCommand({
  docs: docs(
    "every schedule with its next and last run in its zone",
    "queuectl schedule list",
    "queuectl schedule list --json",
  ),
  parameters: { flags: { json: switchFlag("print a JSON array of schedules") } },
  async func(this: Context, flags: { json?: boolean }) {
    const { scheduleList } = await load<typeof import("./cli/schedule_list.ts")>("schedule_list");
    await scheduleList(this.cli, flags.json === true);
  },
});

/** A schedule command that takes one name. */
const scheduleNameArg = { kind: "tuple", parameters: [arg("name", "schedule name")] } as const;

const scheduleShow = buildCommand({
  docs: docs(
    "one schedule: next and last run, skipped and missed times, its last job",
    "queuectl schedule show nightly",
  ),
  parameters: {
    flags: { json: switchFlag("print the schedule with its last job") },
    positional: scheduleNameArg,
  },
  async func(this: Context, flags: { json?: boolean }, name: string) {
    const { scheduleShow } = await load<typeof import("./cli/schedule_show.ts")>("schedule_show");
    await scheduleShow(this.cli, name, flags.json === true);
  },
});

const scheduleRm = buildCommand({
  docs: docs("remove a schedule (the jobs it enqueued stay)", "queuectl schedule rm nightly"),
  parameters: { positional: scheduleNameArg },
  async func(this: Context, _flags: Record<never, never>, name: string) {
    const { scheduleRm } = await load<typeof import("./cli/schedule_rm.ts")>("schedule_rm");
    await scheduleRm(this.cli, name);
  },
});

const schedulePause = buildCommand({
  docs: docs("enqueue nothing from a schedule until resumed", "queuectl schedule pause nightly"),
  parameters: { positional: scheduleNameArg },
  async func(this: Context, _flags: Record<never, never>, name: string) {
    const { schedulePause } = await load<typeof import("./cli/schedule_pause.ts")>(
      "schedule_pause",
    );
    await schedulePause(this.cli, name);
  },
});

const scheduleResume = buildCommand({
  docs: docs(
    "resume a paused schedule from its next due time after now",
    "queuectl schedule resume nightly",
  ),
  parameters: { positional: scheduleNameArg },
  async func(this: Context, _flags: Record<never, never>, name: string) {
    const { scheduleResume } = await load<typeof import("./cli/schedule_resume.ts")>(
      "schedule_resume",
    );
    await scheduleResume(this.cli, name);
  },
});

const scheduleRun = buildCommand({
  docs: docs(
    "enqueue one job of a schedule now (id <name>@<now>); prints its id",
    "queuectl schedule run nightly",
  ),
  parameters: {
    flags: { json: switchFlag("print the job") },
    positional: scheduleNameArg,
  },
  async func(this: Context, flags: { json?: boolean }, name: string) {
    const { scheduleRun } = await load<typeof import("./cli/schedule_run.ts")>("schedule_run");
    await scheduleRun(this.cli, name, flags.json === true);
  },
});

const selftest = buildCommand({
  docs: docs("run the core scenarios end to end on a temporary database", "queuectl selftest"),
  parameters: {},
  async func(this: Context) {
    const { selftest } = await load<typeof import("./cli/selftest.ts")>("selftest");
    await selftest(this.cli);
  },
});

const queueList = buildCommand({
  docs: docs(
    "every queue: counts per state, running jobs, paused or not, its limit",
    "queuectl queue list",
  ),
  parameters: { flags: { json: switchFlag("print a JSON array of queues") } },
  async func(this: Context, flags: { json?: boolean }) {
    const { queueList } = await load<typeof import("./cli/queue_list.ts")>("queue_list");
    await queueList(this.cli, flags.json === true);
  },
});

const queuePause = buildCommand({
  docs: docs(
    "workers start nothing from this queue (running jobs finish; enqueue still works)",
    "queuectl queue pause reports",
  ),
  parameters: { positional: { kind: "tuple", parameters: [arg("name", "queue name")] } },
  async func(this: Context, _flags: Record<never, never>, name: string) {
    const { queuePause } = await load<typeof import("./cli/queue_pause.ts")>("queue_pause");
    await queuePause(this.cli, name, true);
  },
});

const queueResume = buildCommand({
  docs: docs("workers start jobs from this queue again", "queuectl queue resume reports"),
  parameters: { positional: { kind: "tuple", parameters: [arg("name", "queue name")] } },
  async func(this: Context, _flags: Record<never, never>, name: string) {
    const { queuePause } = await load<typeof import("./cli/queue_pause.ts")>("queue_pause");
    await queuePause(this.cli, name, false);
  },
});

const queueSet = buildCommand({
  docs: docs(
    "limit a queue across all workers and hosts: running jobs, starts per period, per group",
    "queuectl queue set reports --concurrency 2",
    "queuectl queue set reports --concurrency 0",
    "queuectl queue set api --rate 10/1s",
    "queuectl queue set backups --group-concurrency 1",
  ),
  parameters: {
    flags: {
      concurrency: valueFlag("at most this many running at once; 0 = no limit", "n"),
      rate: valueFlag(
        'at most N starts per PERIOD, e.g. "10/1s", "600/1m"; off = none',
        "N/PERIOD",
      ),
      groupConcurrency: valueFlag("at most this many of one group at once; 0 = no limit", "n"),
    },
    positional: { kind: "tuple", parameters: [arg("name", "queue name")] },
  },
  async func(
    this: Context,
    flags: { concurrency?: string; rate?: string; groupConcurrency?: string },
    name: string,
  ) {
    const { queueSet } = await load<typeof import("./cli/queue_set.ts")>("queue_set");
    await queueSet(this.cli, name, flags);
  },
});

const prune = buildCommand({
  docs: docs(
    "delete old completed, cancelled and dead jobs and old events now (workers do it about once a minute)",
    "queuectl prune",
    "queuectl prune --completed-older-than 1d --dry-run",
  ),
  parameters: {
    flags: {
      completedOlderThan: valueFlag('completed jobs older than this, e.g. "1d"', "duration"),
      cancelledOlderThan: valueFlag('cancelled jobs older than this, e.g. "7d"', "duration"),
      deadOlderThan: valueFlag('dead jobs older than this, e.g. "30d"', "duration"),
      dryRun: switchFlag("count only; delete nothing"),
      json: switchFlag("print { completed, cancelled, dead, events, dry_run }"),
    },
  },
  async func(
    this: Context,
    flags: {
      completedOlderThan?: string;
      cancelledOlderThan?: string;
      deadOlderThan?: string;
      dryRun?: boolean;
      json?: boolean;
    },
  ) {
    const { prune } = await load<typeof import("./cli/prune.ts")>("prune");
    await prune(this.cli, flags);
  },
});

const vacuum = buildCommand({
  docs: docs(
    "return freed space to the file system; prints the size before and after",
    "queuectl vacuum",
  ),
  parameters: { flags: { json: switchFlag("print { before_bytes, after_bytes }") } },
  async func(this: Context, flags: { json?: boolean }) {
    const { vacuum } = await load<typeof import("./cli/vacuum.ts")>("vacuum");
    await vacuum(this.cli, flags.json === true);
  },
});

const backup = buildCommand({
  docs: docs(
    "write a consistent copy of a SQLite database to a new file, also while workers run",
    "queuectl backup ~/backups/queue-$(date +%F).db",
  ),
  parameters: {
    flags: { json: switchFlag("print { path, bytes }") },
    positional: { kind: "tuple", parameters: [arg("file", "the new file (must not exist)")] },
  },
  async func(this: Context, flags: { json?: boolean }, file: string) {
    const { backup } = await load<typeof import("./cli/backup.ts")>("backup");
    await backup(this.cli, file, flags.json === true);
  },
});

const root = buildRouteMap({
  docs: {
    brief: "A background job queue of shell commands, with retries, a DLQ and a dashboard.",
    fullDescription:
      "A background job queue of shell commands, with retries, a DLQ and a dashboard.\n\n" +
      `${GLOBAL_HELP}\n\nExamples:\n` +
      `  $ queuectl enqueue '{"id":"job1","command":"echo hello"}'\n` +
      "  $ queuectl worker start --count 2\n" +
      "  $ queuectl status",
  },
  routes: {
    enqueue,
    worker: buildRouteMap({
      docs: { brief: "run, stop and list worker processes, or print a systemd unit for them" },
      routes: { start: workerStart, stop: workerStop, list: workerList, service: workerService },
    }),
    status,
    list,
    show,
    wait,
    logs,
    retry: controls.retry,
    cancel: controls.cancel,
    delete: controls.deleteJobs,
    hold: controls.hold,
    release: controls.release,
    edit: controls.edit,
    dlq: buildRouteMap({
      docs: { brief: "the dead letter queue: jobs that ran out of retries" },
      routes: { list: dlqList, retry: dlqRetry, purge: dlqPurge },
    }),
    config: buildRouteMap({
      docs: { brief: "settings, stored in the database" },
      routes: { list: configList, get: configGet, set: configSet },
    }),
    queue: buildRouteMap({
      docs: { brief: "named queues: counts, pause and resume, concurrency limits" },
      routes: { list: queueList, pause: queuePause, resume: queueResume, set: queueSet },
    }),
    prune,
    vacuum,
    backup,
    schedule: buildRouteMap({
      docs: { brief: "recurring jobs: cron schedules that enqueue a job at each due time" },
      routes: {
        add: scheduleAdd,
        list: scheduleList,
        show: scheduleShow,
        rm: scheduleRm,
        pause: schedulePause,
        resume: scheduleResume,
        run: scheduleRun,
      },
    }),
    dashboard,
    selftest,
    events,
    progress,
  },
});

// ---------------------------------------------------------------------------
// Errors: one line each, `error: <what>; <what to do>`.

/** Whether `--debug` was given to this run (stack traces after the line). */
let debug = false;

/** The line (and, with --debug, the stack) for an error a command threw. */
function describeError(error: unknown): string {
  const stack = debug && error instanceof Error ? `\n${error.stack}` : "";
  if (error instanceof QueuectlError) return `error: ${errorLine(error)}${stack}`;
  const message = errorMessage(error);
  return `error: ${message}; this is a bug, run with --debug for details${stack}`;
}

const usageHint = "; run with --help for usage";

const text: ApplicationText = {
  ...text_en,
  noCommandRegisteredForInput: ({ input, corrections }) =>
    `error: unknown command '${input}'` +
    (corrections.length > 0 ? ` (did you mean ${corrections.join(" or ")}?)` : "") + usageHint,
  exceptionWhileParsingArguments: (error) =>
    `error: ${
      formatMessageForArgumentScannerError(
        error as Parameters<typeof formatMessageForArgumentScannerError>[0],
        {
          FlagNotFoundError: (e) =>
            `unknown option '--${e.input}'` +
            (e.corrections.length > 0
              ? ` (did you mean ${e.corrections.map((c) => `--${c}`).join(" or ")}?)`
              : ""),
          AliasNotFoundError: (e) => `unknown option '-${e.input}'`,
        },
      )
    }${usageHint}`,
  exceptionWhileRunningCommand: describeError,
  exceptionWhileLoadingCommandFunction: describeError,
  exceptionWhileLoadingCommandContext: describeError,
  commandErrorResult: describeError,
};

const app = buildApplication<Context>(root, {
  name: "queuectl",
  scanner: { caseStyle: "allow-kebab-for-camel", allowArgumentEscapeSequence: true },
  documentation: { caseStyle: "convert-camel-to-kebab", disableAnsiColor: true },
  localization: { text },
  determineExitCode: (error) => error instanceof QueuectlError ? error.exitCode : 1,
}, {
  help: help({
    brief: text.briefs.help,
    alias: "h",
    defaultForRouteMap: true,
    formatting: {
      caseStyle: "convert-camel-to-kebab",
      useAliasInUsageLine: false,
      onlyRequiredInUsageLine: false,
    },
  }),
  version: version({
    brief: text.briefs.version,
    alias: "V",
    info: { currentVersion: denoJson.version },
  }),
});

/** A stream for the command library that writes through at once, as console output does. */
const writer = (file: { writeSync(p: Uint8Array): number }) => ({
  write: (text: string) => writeAll(file, text),
});

/** Commands that open the store once, with one connection, soon after they start. */
const OPENS_STORE_ONCE = new Set([
  "enqueue",
  "status",
  "list",
  "show",
  "wait",
  "logs",
  "retry",
  "cancel",
  "delete",
  "hold",
  "release",
  "edit",
  "dlq",
  "config",
  "queue",
  "schedule",
  "prune",
  "vacuum",
]);

/**
 * Whether the command line runs such a command (not its help): then a
 * PostgreSQL store starts connecting before the command is even loaded
 * (DESIGN.md, "Performance").
 */
function opensStoreOnce(rest: string[]): boolean {
  const end = rest.indexOf("--");
  const args = end < 0 ? rest : rest.slice(0, end);
  if (args.some((a) => a === "-h" || a === "--help" || a === "-V" || a === "--version")) {
    return false;
  }
  const word = args.find((a) => !a.startsWith("-"));
  return word !== undefined && OPENS_STORE_ONCE.has(word);
}

/** Runs the CLI and returns the exit code: 0 done, 1 failed, 2 bad usage. */
export async function run(argv: string[]): Promise<number> {
  let globals: GlobalOptions;
  let rest: string[];
  try {
    ({ globals, rest } = takeGlobalOptions(argv));
  } catch (error) {
    console.error(describeError(error));
    return 2;
  }
  debug = globals.debug;
  if (opensStoreOnce(rest)) {
    try {
      prefetchStorage(resolveDbLocation(globals.db));
    } catch { /* the command reports it */ }
  }
  const cli: CliContext = {
    db: globals.db,
    color: !globals.noColor && !Deno.env.get("NO_COLOR") && Deno.stdout.isTerminal(),
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  };
  const process: Context["process"] & { exitCode?: number | string | null } = {
    stdout: writer(Deno.stdout),
    stderr: writer(Deno.stderr),
  };
  await runApplication(app, rest, { process, cli, dashDash: rest.includes("--") });
  const code = Number(process.exitCode ?? 0);
  if (code >= 0) return code;
  // The library's own codes are negative: bad command lines are usage errors.
  return code === ExitCode.UnknownCommand || code === ExitCode.InvalidArgument ? 2 : 1;
}

if (import.meta.main) {
  const code = await run(Deno.args);
  // Leave with the mapped code; long-running commands (worker start,
  // dashboard) return only when they are done.
  Deno.exit(code);
}
