/** `queuectl list`: jobs, newest first, as a table or a JSON array. */
import { UsageError } from "../lib/errors.ts";
import { isJobState, type Job, JOB_STATES, type JobState } from "../lib/job.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { paintState, relativeTime, table, truncate } from "./_format.ts";

/** Options of `list`, as given on the command line. */
export interface ListOptions {
  state?: string | undefined;
  queue?: string | undefined;
  limit?: string | undefined;
}

/** Checks `--state`, naming the states allowed. */
export function parseState(value: string | undefined): JobState | undefined {
  if (value === undefined) return undefined;
  if (isJobState(value)) return value;
  throw new UsageError(`Unknown state "${value}"`, `use one of: ${JOB_STATES.join(", ")}`);
}

/** Checks `--limit`: a positive integer. */
export function parseLimit(value: string | undefined, fallback = 50): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`Invalid limit "${value}"`, "use a positive integer");
  }
  return n;
}

/** Prints jobs as an aligned table. */
export function printJobTable(ctx: CliContext, jobs: Job[]): void {
  if (jobs.length === 0) {
    ctx.out("no jobs");
    return;
  }
  const now = Date.now();
  const width = Deno.stdout.isTerminal() ? Deno.consoleSize().columns : 120;
  const rows = jobs.map((job) => [
    job.id,
    paintState(ctx.color, job.state),
    String(job.attempts),
    String(job.priority),
    job.queue,
    relativeTime(job.updated_at, now),
    job.command,
  ]);
  const header = ["ID", "STATE", "TRIES", "PRI", "QUEUE", "UPDATED", "COMMAND"];
  const used = table(header.slice(0, -1), rows.map((r) => r.slice(0, -1))).split("\n")[0]!
    .length;
  const room = Math.max(20, width - used - 2);
  ctx.out(table(header, rows.map((r) => [...r.slice(0, -1), truncate(r[6]!, room)])));
}

/** `list [--state S] [--queue Q] [--limit N]`. */
export async function list(ctx: CliContext, options: ListOptions, json: boolean): Promise<void> {
  const state = parseState(options.state);
  const limit = parseLimit(options.limit);
  const page = await withStorage(
    ctx,
    (store) => store.jobList({ state, queue: options.queue, limit }),
  );
  if (json) return printJson(ctx, page.jobs);
  printJobTable(ctx, page.jobs);
}
