/**
 * queuectl: a background job queue of shell commands.
 *
 * This file is the command tree only: options, help and examples. Each
 * action lazily imports a plain function from `cli/<command>.ts`, so a
 * command loads only what it needs. Errors are mapped to exit codes here
 * and nowhere else.
 */
import { Command, CommanderError, Option } from "@commander-js/extra-typings";
import denoJson from "./deno.json" with { type: "json" };
import type { CliContext } from "./cli/_context.ts";
import { errorLine, QueuectlError } from "./lib/errors.ts";

function context(command: Command<unknown[], Record<string, unknown>>): CliContext {
  const globals = command.optsWithGlobals() as { db?: string; color?: boolean };
  const color = globals.color !== false && !Deno.env.get("NO_COLOR") &&
    Deno.stdout.isTerminal();
  return {
    db: globals.db,
    color,
    out: (text) => console.log(text),
    err: (text) => console.error(text),
  };
}

/** The arguments being parsed: `enqueue` needs to see whether `--` was given. */
let argvInUse: string[] = Deno.args;

const examples = (...lines: string[]) =>
  `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;

const program = new Command()
  .name("queuectl")
  .description("A background job queue of shell commands, with retries, a DLQ and a dashboard.")
  .version(denoJson.version, "-V, --version")
  .option(
    "--db <path>",
    "database file (env QUEUECTL_DB; default ~/.local/share/queuectl/queue.db)",
  )
  .option("--no-color", "no colours in output (also NO_COLOR)")
  .option("--debug", "show stack traces of errors")
  .exitOverride()
  .configureOutput({
    outputError: (text, write) =>
      write(`${text.trim().replace(/\s*\n\s*/g, " ")}; run with --help for usage\n`),
  })
  .showSuggestionAfterError(true)
  .addHelpText(
    "after",
    examples(
      `queuectl enqueue '{"id":"job1","command":"echo hello"}'`,
      "queuectl worker start --count 2",
      "queuectl status",
    ),
  );

program.command("enqueue")
  .description("add a job from JSON, many from an NDJSON file, or one from a command line")
  .argument("[job...]", "a job as a JSON object, or the command after --")
  .option(
    "-f, --file <path>",
    "add one job per line of this NDJSON file (- for stdin), all or none",
  )
  .option("--id <id>", "job id (with -- <cmd>)")
  .option("--priority <n>", "higher runs first (with -- <cmd>)")
  .option("--delay <duration>", 'run after this delay, e.g. 30, "90s", "1h30m" (with -- <cmd>)')
  .option("--run-at <time>", "run at this ISO-8601 time (with -- <cmd>)")
  .option("--timeout <seconds>", "time limit; 0 for none (with -- <cmd>)")
  .option("--max-retries <n>", "retries after the first attempt (with -- <cmd>)")
  .option("--queue <name>", "queue name (with -- <cmd>)")
  .option("--json", "print the job (or jobs) as JSON")
  .addHelpText(
    "after",
    examples(
      `queuectl enqueue '{"id":"job1","command":"echo hello"}'`,
      `queuectl enqueue '{"id":"fail1","command":"bash -c \\"exit 1\\"","max_retries":2}'`,
      "queuectl enqueue --file jobs.ndjson",
      'queuectl enqueue --priority 5 --delay 5m -- tar czf backup.tgz "My Documents"',
    ),
  )
  .action(async (job, options, command) => {
    const ctx = context(command);
    const { enqueueCommand, enqueueFile, enqueueJson } = await import("./cli/enqueue.ts");
    const { UsageError } = await import("./lib/errors.ts");
    const dashDash = argvInUse.includes("--");
    const { file, json, ...jobOptions } = options;
    const hasJobOptions = Object.values(jobOptions).some((v) => v !== undefined);
    if (file !== undefined) {
      if (job.length > 0 || hasJobOptions) {
        throw new UsageError(
          "--file takes no other job or job options",
          "put every job in the file",
        );
      }
      return await enqueueFile(ctx, file, json === true);
    }
    if (dashDash) return await enqueueCommand(ctx, job, jobOptions, json === true);
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
    await enqueueJson(ctx, job[0]!, json === true);
  });

const worker = program.command("worker").description("run, stop and list worker processes");

worker.command("start")
  .description("run workers in this process until stopped (Ctrl-C: finish running jobs, then exit)")
  .option("-c, --count <n>", "jobs run at once (Web Workers)", "1")
  .option("-q, --queue <name...>", "serve only these queues (repeatable)")
  .option("-d, --detach", "run in the background; output goes to a log file beside the database")
  .addHelpText(
    "after",
    examples("queuectl worker start --count 4", "queuectl worker start --detach"),
  )
  .action(async (options, command) => {
    const { workerStart } = await import("./cli/worker_start.ts");
    await workerStart(context(command), options);
  });

worker.command("stop")
  .description("stop every worker using this database: running jobs finish first")
  .option("--timeout <seconds>", "how long to wait for them to exit", "60")
  .option("--force", "end running jobs at once and put them back as pending")
  .addHelpText("after", examples("queuectl worker stop", "queuectl worker stop --force"))
  .action(async (options, command) => {
    const { workerStop } = await import("./cli/worker_stop.ts");
    await workerStop(context(command), options);
  });

worker.command("list")
  .description("running worker processes: id, pid, host, started, current jobs")
  .option("--json", "print a JSON array")
  .addHelpText("after", examples("queuectl worker list"))
  .action(async (options, command) => {
    const { workerList } = await import("./cli/worker_list.ts");
    await workerList(context(command), options.json === true);
  });

program.command("status")
  .description("counts per state, active workers, next retry, throughput, the database in use")
  .option("--json", "print the status document")
  .addHelpText("after", examples("queuectl status", "queuectl status --json"))
  .action(async (options, command) => {
    const { status } = await import("./cli/status.ts");
    await status(context(command), options.json === true);
  });

program.command("list")
  .description("jobs, newest first")
  .addOption(
    new Option("--state <state>", "only jobs in this state"),
  )
  .option("--queue <name>", "only jobs of this queue")
  .option("--limit <n>", "at most this many jobs", "50")
  .option("--json", "print a JSON array of jobs")
  .addHelpText(
    "after",
    examples("queuectl list --state pending", "queuectl list --limit 10 --json"),
  )
  .action(async (options, command) => {
    const { list } = await import("./cli/list.ts");
    await list(context(command), options, options.json === true);
  });

program.command("show")
  .description("one job: every field and every attempt")
  .argument("<id>", "job id")
  .option("--json", "print the job with its runs")
  .addHelpText("after", examples("queuectl show job1"))
  .action(async (id, options, command) => {
    const { show } = await import("./cli/show.ts");
    await show(context(command), id, options.json === true);
  });

program.command("logs")
  .description("the captured output of a job's latest attempt (stdout to stdout, stderr to stderr)")
  .argument("<id>", "job id")
  .option("--attempt <n>", "this attempt instead of the latest")
  .option("-f, --follow", "keep printing while the attempt runs")
  .option("--json", "print { id, attempt, stdout, stderr }")
  .addHelpText("after", examples("queuectl logs job1", "queuectl logs job1 --attempt 2 --json"))
  .action(async (id, options, command) => {
    const { logs } = await import("./cli/logs.ts");
    await logs(context(command), id, options, options.json === true);
  });

program.command("retry")
  .description("a failed job runs again now; a dead job starts over (as dlq retry)")
  .argument("<id...>", "job ids")
  .addHelpText("after", examples("queuectl retry fail1"))
  .action(async (ids, _options, command) => {
    const { retry } = await import("./cli/retry.ts");
    await retry(context(command), ids);
  });

program.command("cancel")
  .description("cancel pending or failed jobs; a running one is stopped first")
  .argument("<id...>", "job ids")
  .addHelpText("after", examples("queuectl cancel job1 job2"))
  .action(async (ids, _options, command) => {
    const { cancel } = await import("./cli/cancel.ts");
    await cancel(context(command), ids);
  });

const dlq = program.command("dlq").description(
  "the dead letter queue: jobs that ran out of retries",
);

dlq.command("list")
  .description("dead jobs, newest first")
  .option("--limit <n>", "at most this many jobs", "50")
  .option("--json", "print a JSON array of jobs")
  .addHelpText("after", examples("queuectl dlq list"))
  .action(async (options, command) => {
    const { dlqList } = await import("./cli/dlq_list.ts");
    await dlqList(context(command), options, options.json === true);
  });

dlq.command("retry")
  .description("move dead jobs back to pending with attempts reset")
  .argument("[id...]", "job ids")
  .option("--all", "every dead job")
  .addHelpText("after", examples("queuectl dlq retry fail1", "queuectl dlq retry --all"))
  .action(async (ids, options, command) => {
    const { dlqRetry } = await import("./cli/dlq_retry.ts");
    await dlqRetry(context(command), ids, options.all === true);
  });

dlq.command("purge")
  .description("delete dead jobs and their history; prints how many")
  .option("--older-than <duration>", 'only jobs dead for longer than this, e.g. "7d"')
  .addHelpText("after", examples("queuectl dlq purge", "queuectl dlq purge --older-than 7d"))
  .action(async (options, command) => {
    const { dlqPurge } = await import("./cli/dlq_purge.ts");
    await dlqPurge(context(command), options);
  });

const config = program.command("config").description("settings, stored in the database");

config.command("list")
  .description("every setting with its value")
  .option("--json", "print { key: value, ... }")
  .addHelpText("after", examples("queuectl config list"))
  .action(async (options, command) => {
    const { configList } = await import("./cli/config_list.ts");
    await configList(context(command), options.json === true);
  });

config.command("get")
  .description("one setting")
  .argument("<key>", "setting name (max_retries or max-retries)")
  .option("--json", "print { key: value }")
  .addHelpText("after", examples("queuectl config get max_retries"))
  .action(async (key, options, command) => {
    const { configGet } = await import("./cli/config_get.ts");
    await configGet(context(command), key, options.json === true);
  });

config.command("set")
  .description("change a setting; running workers see it without a restart")
  .argument("<key>", "setting name")
  .argument("<value>", "new value")
  .addHelpText(
    "after",
    examples("queuectl config set max_retries 5", "queuectl config set backoff-base 3"),
  )
  .action(async (key, value, _options, command) => {
    const { configSet } = await import("./cli/config_set.ts");
    await configSet(context(command), key, value);
  });

program.command("dashboard")
  .description("the live web dashboard and JSON API")
  .option("--port <port>", "port to listen on", "5000")
  .option("--host <host>", "address to bind", "127.0.0.1")
  .option("--token <token>", "access token (env QUEUECTL_TOKEN; generated when absent)")
  .option("--workers <n>", "run this many workers inside the dashboard process", "0")
  .addHelpText(
    "after",
    examples("queuectl dashboard", "queuectl dashboard --port 8080 --workers 2"),
  )
  .action(async (options, command) => {
    const { dashboard } = await import("./cli/dashboard.ts");
    await dashboard(context(command), options);
  });

program.command("selftest")
  .description("run the core scenarios end to end on a temporary database")
  .addHelpText("after", examples("queuectl selftest"))
  .action(async (_options, command) => {
    const { selftest } = await import("./cli/selftest.ts");
    await selftest(context(command));
  });

/** Runs the CLI and returns the exit code: 0 done, 1 failed, 2 bad usage. */
export async function run(argv: string[]): Promise<number> {
  argvInUse = argv;
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its message already; help and version are not errors.
      return error.exitCode === 0 ? 0 : 2;
    }
    const debug = argv.includes("--debug");
    if (error instanceof QueuectlError) {
      console.error(`error: ${errorLine(error)}`);
      if (debug) console.error(error.stack);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    console.error(`error: ${message}; this is a bug, run with --debug for details`);
    if (debug) console.error(error instanceof Error ? error.stack : error);
    return 1;
  }
}

if (import.meta.main) {
  const code = await run(Deno.args);
  // Flush nothing pending and leave with the mapped code; long-running
  // commands (worker start, dashboard) return only when they are done.
  Deno.exit(code);
}
