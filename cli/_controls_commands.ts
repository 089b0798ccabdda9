/**
 * The commands of the operator controls (README "Operating a queue"):
 * `cancel`, `retry` and `delete` by id or filter, `hold`, `release` and
 * `edit`. Part of the command tree of `main.ts`, kept beside it so the
 * tree stays readable; each command loads its `cli/<name>.ts` on demand.
 */
import { buildCommand } from "@stricli/core";
import type { BulkOptions } from "./_bulk.ts";
import { arg, type Context, docs, load, repeatFlag, switchFlag, valueFlag } from "./_tree.ts";

/** The filter flags, `--all`, `--dry-run` and `--json` every action by filter takes. */
const filterFlags = (action: string) => ({
  state: valueFlag("only jobs in this state", "state"),
  queue: valueFlag("only jobs of this queue", "name"),
  tag: repeatFlag("only jobs with this tag (repeatable: all must match)", "tag"),
  olderThan: valueFlag('only jobs created longer ago than this, e.g. "2h", "7d"', "duration"),
  commandLike: valueFlag("only jobs whose command contains this text (any case)", "text"),
  all: switchFlag(`${action} every job it applies to, with no other filter`),
  dryRun: switchFlag("print how many jobs and the first ids; change nothing"),
  json: switchFlag("print { action, dry_run, count, requested, skipped } (filters only)"),
});

/** The flags of an action by filter, as the command library hands them over. */
type FilterFlags = BulkOptions & { tag?: readonly string[] };

/** The positional ids of an action that also takes a filter. */
const ids = { kind: "array", parameter: arg("id", "job ids (or give a filter)") } as const;

/** `retry <id>... | <filter>`. */
export const retry = buildCommand({
  docs: docs(
    "a failed job runs again now; a dead or cancelled job starts over (as dlq retry); by id or filter",
    "queuectl retry fail1",
    "queuectl retry --state dead --queue emails --dry-run",
    "queuectl retry --state failed --tag batch7",
  ),
  parameters: { flags: filterFlags("retry"), positional: ids },
  async func(this: Context, flags: FilterFlags, ...jobIds: string[]) {
    const { retry } = await load<typeof import("./retry.ts")>("retry");
    await retry(this.cli, jobIds, flags);
  },
});

/** `cancel <id>... | <filter>`. */
export const cancel = buildCommand({
  docs: docs(
    "cancel waiting jobs (and jobs waiting on them); a running one is stopped first; by id or filter",
    "queuectl cancel job1 job2",
    "queuectl cancel --state pending --tag batch7",
    "queuectl cancel --queue emails --older-than 2h --dry-run",
  ),
  parameters: { flags: filterFlags("cancel"), positional: ids },
  async func(this: Context, flags: FilterFlags, ...jobIds: string[]) {
    const { cancel } = await load<typeof import("./cancel.ts")>("cancel");
    await cancel(this.cli, jobIds, flags);
  },
});

/** `delete <id>... | <filter>`. */
export const deleteJobs = buildCommand({
  docs: docs(
    "delete final jobs (completed, dead, cancelled) with their output; by id or filter",
    "queuectl delete job1",
    "queuectl delete --state completed --older-than 7d",
  ),
  parameters: { flags: filterFlags("delete"), positional: ids },
  async func(this: Context, flags: FilterFlags, ...jobIds: string[]) {
    const { deleteJobs } = await load<typeof import("./delete.ts")>("delete");
    await deleteJobs(this.cli, jobIds, flags);
  },
});

/** `hold <id>... | <filter>`. */
export const hold = buildCommand({
  docs: docs(
    "hold waiting jobs: never started until released; keys and dependencies kept",
    "queuectl hold job1",
    "queuectl hold --queue emails",
  ),
  parameters: { flags: filterFlags("hold"), positional: ids },
  async func(this: Context, flags: FilterFlags, ...jobIds: string[]) {
    const { hold } = await load<typeof import("./hold.ts")>("hold");
    await hold(this.cli, jobIds, flags);
  },
});

/** `release <id>... | <filter>`. */
export const release = buildCommand({
  docs: docs(
    "put held jobs back where they were (pending, blocked, failed)",
    "queuectl release job1",
    "queuectl release --all",
  ),
  parameters: { flags: filterFlags("release"), positional: ids },
  async func(this: Context, flags: FilterFlags, ...jobIds: string[]) {
    const { release } = await load<typeof import("./release.ts")>("release");
    await release(this.cli, jobIds, flags);
  },
});

/** The flags of `edit`, as given. */
interface EditFlags {
  command?: string;
  priority?: string;
  queue?: string;
  runAt?: string;
  maxRetries?: string;
  timeout?: string;
  tag?: readonly string[];
  env?: readonly string[];
  json?: boolean;
}

/** `edit <id> [--command ...] ...`. */
export const edit = buildCommand({
  docs: docs(
    "change a job that is not running and not final (--tag and --env replace the whole list)",
    "queuectl edit job1 --priority 10",
    "queuectl edit job1 --command 'make report' --env LOG_LEVEL=debug --tag nightly",
  ),
  parameters: {
    flags: {
      command: valueFlag("the shell command", "command"),
      priority: valueFlag("higher runs first", "n"),
      queue: valueFlag("queue name", "name"),
      runAt: valueFlag("run at this ISO-8601 time (a past time means now)", "time"),
      maxRetries: valueFlag("retries after the first attempt", "n"),
      timeout: valueFlag("time limit in seconds; 0 for none", "seconds"),
      tag: repeatFlag("the job's tags (repeatable; replaces them all)", "tag"),
      env: repeatFlag("environment variable NAME=VALUE (repeatable; replaces them all)", "K=V"),
      json: switchFlag("print the job as changed"),
    },
    positional: { kind: "tuple", parameters: [arg("id", "job id")] },
  },
  async func(this: Context, flags: EditFlags, id: string) {
    const { edit } = await load<typeof import("./edit.ts")>("edit");
    const { json, ...words } = flags;
    await edit(this.cli, id, words, json === true);
  },
});
