/** `queuectl enqueue`: one job from JSON, many from NDJSON, or one from a command line. */
import { ConflictError, UsageError } from "../lib/errors.ts";
import { insertedJobs, type NewJob } from "../lib/job.ts";
import {
  parseJobInput,
  parseJobJson,
  parseJsonObject,
  tryParseJobInput,
} from "../lib/job_input.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { shellQuote } from "./_format.ts";

/** Options of `enqueue [opts] -- <cmd...>`, as given on the command line. */
export interface EnqueueCommandOptions {
  id?: string | undefined;
  priority?: string | undefined;
  delay?: string | undefined;
  runAt?: string | undefined;
  timeout?: string | undefined;
  maxRetries?: string | undefined;
  queue?: string | undefined;
}

/** Inserts the jobs; with `json` prints the job, or for a batch (`many`) always the array. */
async function insert(ctx: CliContext, jobs: NewJob[], now: number, json: boolean, many = false) {
  await withStorage(ctx, (store) => store.jobInsertMany({ jobs, now }));
  if (!json) return;
  const inserted = insertedJobs(jobs, now);
  printJson(ctx, many ? inserted : inserted[0]);
}

/** `enqueue '<json>'`: prints the new job's id (or the job with `--json`). */
export async function enqueueJson(ctx: CliContext, text: string, json: boolean): Promise<void> {
  const now = Date.now();
  const job = await parseJobJson(text, now);
  await insert(ctx, [job], now, json);
  if (!json) ctx.out(job.id);
}

function numberOrText(value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  return /^-?(\d+\.?\d*|\.\d+)$/.test(value.trim()) ? Number(value) : value;
}

/** `enqueue [opts] -- <cmd...>`: each argument quoted for the shell. */
export async function enqueueCommand(
  ctx: CliContext,
  argv: string[],
  options: EnqueueCommandOptions,
  json: boolean,
): Promise<void> {
  if (argv.every((arg) => arg.trim() === "")) {
    throw new UsageError("Nothing to enqueue", "give a job as JSON, --file F, or -- <command...>");
  }
  const now = Date.now();
  const input: Record<string, unknown> = { command: argv.map(shellQuote).join(" ") };
  const fields: [string, unknown][] = [
    ["id", options.id],
    ["priority", numberOrText(options.priority)],
    ["delay", numberOrText(options.delay)],
    ["run_at", options.runAt],
    ["timeout", numberOrText(options.timeout)],
    ["max_retries", numberOrText(options.maxRetries)],
    ["queue", options.queue],
  ];
  for (const [key, value] of fields) if (value !== undefined) input[key] = value;
  const job = await parseJobInput(input, now);
  await insert(ctx, [job], now, json);
  if (!json) ctx.out(job.id);
}

async function readSource(path: string): Promise<string> {
  if (path === "-") return await new Response(Deno.stdin.readable).text();
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new UsageError(`Cannot read "${path}": ${reason}`);
  }
}

/** How many lines `text.split("\n")` would give. */
function countLines(text: string): number {
  let lines = 1;
  for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n", at + 1)) lines++;
  return lines;
}

/** Throws the error for the first id used twice in the batch, if any: exit 1 naming both lines. */
function throwFirstRepeat(jobs: NewJob[], lineOf: number[]): void {
  const seen = new Map<string, number>();
  for (let k = 0; k < jobs.length; k++) {
    const id = jobs[k]!.id;
    const first = seen.get(id);
    if (first !== undefined) {
      throw new ConflictError(
        `line ${lineOf[k]}: Cannot enqueue job "${id}": the id is already used on line ${first}`,
        "ids must be unique",
      );
    }
    seen.set(id, lineOf[k]!);
  }
}

/**
 * `enqueue --file F`: one JSON object a line, blank lines skipped; all or
 * none. A bad line is exit 2 naming its number; a duplicate id exit 1.
 *
 * Repeated ids are left to the store's unique index, which refuses the
 * whole batch; only then are the lines searched to name them, and before
 * a bad line's error, so the first problem in the file is the one reported.
 */
export async function enqueueFile(ctx: CliContext, path: string, json: boolean): Promise<void> {
  const text = await readSource(path);
  const now = Date.now();
  const progress = !json && Deno.stderr.isTerminal() && countLines(text) >= 20_000;
  const jobs: NewJob[] = [];
  const lineOf: number[] = [];
  // Line by line with indexOf: an array of every line (split) costs a third more.
  for (let start = 0, number = 1; start <= text.length; number++) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() === "") continue;
    // Valid lines take the plain checks; any other is parsed again to word its error.
    let job: NewJob | null = null;
    try {
      job = tryParseJobInput(JSON.parse(line), now);
    } catch { /* worded below */ }
    if (!job) {
      const where = `line ${number}: `;
      try {
        job = await parseJobInput(parseJsonObject(line, where), now, where);
      } catch (error) {
        throwFirstRepeat(jobs, lineOf);
        throw error;
      }
    }
    jobs.push(job);
    lineOf.push(number);
    if (progress && jobs.length % 10_000 === 0) {
      Deno.stderr.writeSync(new TextEncoder().encode(`\rvalidated ${jobs.length} jobs…`));
    }
  }
  if (jobs.length === 0) {
    throw new UsageError(`No jobs in "${path}"`, "give one JSON object a line");
  }
  if (progress) Deno.stderr.writeSync(new TextEncoder().encode(`\rwriting ${jobs.length} jobs…`));
  try {
    await insert(ctx, jobs, now, json, true);
  } catch (error) {
    if (error instanceof ConflictError) throwFirstRepeat(jobs, lineOf);
    throw error;
  }
  if (progress) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
  if (!json) ctx.out(`enqueued ${jobs.length} job${jobs.length === 1 ? "" : "s"}`);
}
