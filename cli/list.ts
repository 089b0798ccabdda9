/** `queuectl list`: jobs, newest first, as a table or a JSON array. */
import type { Job } from "../lib/job.ts";
import { parseTags } from "../lib/job_filter.ts";
import { parseLimit, parseState } from "../lib/options.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { relativeTime } from "../lib/relative_time.ts";
import { paintState, table, truncate } from "./_format.ts";

/** Options of `list`, as given on the command line. */
export interface ListOptions {
  state?: string | undefined;
  queue?: string | undefined;
  /** Only jobs carrying every one of these tags. */
  tag?: readonly string[] | undefined;
  limit?: string | undefined;
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
    paintState(ctx.color, job.state) +
    (job.state === "processing" && job.progress !== null ? ` ${job.progress}%` : ""),
    String(job.attempts),
    String(job.priority),
    job.queue,
    relativeTime(job.updated_at, now),
    job.tags?.join(",") ?? "",
    job.command,
  ]);
  const header = ["ID", "STATE", "TRIES", "PRI", "QUEUE", "UPDATED", "TAGS", "COMMAND"];
  const used = table(header.slice(0, -1), rows.map((r) => r.slice(0, -1))).split("\n")[0]!
    .length;
  const room = Math.max(20, width - used - 2);
  ctx.out(table(header, rows.map((r) => [...r.slice(0, -1), truncate(r[7]!, room)])));
}

/** `list [--state S] [--queue Q] [--limit N]`. */
export async function list(ctx: CliContext, options: ListOptions, json: boolean): Promise<void> {
  const state = parseState(options.state);
  const limit = parseLimit(options.limit);
  const tags = options.tag?.length ? parseTags(options.tag) : undefined;
  const page = await withStorage(
    ctx,
    (store) => store.jobList({ state, queue: options.queue, tags, limit }),
  );
  if (json) return printJson(ctx, page.jobs);
  printJobTable(ctx, page.jobs);
}
