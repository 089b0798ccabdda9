/** `queuectl enqueue`: one job from JSON, many from NDJSON, or one from a command line. */
import { ConflictError, UsageError } from "../lib/errors.ts";
import type { NewJob } from "../lib/job.ts";
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
  const inserted = await withStorage(ctx, (store) => store.jobInsertMany({ jobs, now }));
  return json ? printJson(ctx, many ? inserted : inserted[0]) : inserted;
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

/**
 * `enqueue --file F`: one JSON object a line, blank lines skipped; all or
 * none. A bad line is exit 2 naming its number; a duplicate id exit 1.
 */
export async function enqueueFile(ctx: CliContext, path: string, json: boolean): Promise<void> {
  const text = await readSource(path);
  const now = Date.now();
  const lines = text.split("\n");
  const progress = !json && lines.length >= 20_000 && Deno.stderr.isTerminal();
  const jobs: NewJob[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    const where = `line ${i + 1}: `;
    const value = parseJsonObject(line, where);
    // Valid lines take the synchronous path; a bad one gets zod's wording.
    const job = tryParseJobInput(value, now, where) ?? await parseJobInput(value, now, where);
    const first = seen.get(job.id);
    if (first !== undefined) {
      throw new ConflictError(
        `line ${i + 1}: Cannot enqueue job "${job.id}": the id is already used on line ${first}`,
        "ids must be unique",
      );
    }
    seen.set(job.id, i + 1);
    jobs.push(job);
    if (progress && jobs.length % 10_000 === 0) {
      Deno.stderr.writeSync(new TextEncoder().encode(`\rvalidated ${jobs.length} jobs…`));
    }
  }
  if (jobs.length === 0) {
    throw new UsageError(`No jobs in "${path}"`, "give one JSON object a line");
  }
  if (progress) Deno.stderr.writeSync(new TextEncoder().encode(`\rwriting ${jobs.length} jobs…`));
  await insert(ctx, jobs, now, json, true);
  if (progress) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
  if (!json) ctx.out(`enqueued ${jobs.length} job${jobs.length === 1 ? "" : "s"}`);
}
