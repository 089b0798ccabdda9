/**
 * `queuectl enqueue`: one job from JSON, many from NDJSON, or one from a
 * command line; with `--wait`, then waits for them as `wait` does.
 */
import { ConflictError, UsageError } from "../lib/errors.ts";
import { insertedJobs, type Job, type NewJob, type OnConflict } from "../lib/job.ts";
import {
  parseDuration,
  parseJobInput,
  parseJobJson,
  parseJsonObject,
  parseOnConflict,
  tryParseJobInput,
} from "../lib/job_input.ts";
import type { InsertResult } from "../lib/storage/storage.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { shellQuote } from "./_format.ts";
import { parseWaitTimeout, reportWait, waitForJobs } from "./wait.ts";

/** Options of `enqueue [opts] -- <cmd...>`, as given on the command line. */
export interface EnqueueCommandOptions {
  id?: string | undefined;
  priority?: string | undefined;
  delay?: string | undefined;
  runAt?: string | undefined;
  timeout?: string | undefined;
  maxRetries?: string | undefined;
  queue?: string | undefined;
  after?: readonly string[] | undefined;
  key?: string | undefined;
  tag?: readonly string[] | undefined;
  retryOn?: string | undefined;
  group?: string | undefined;
  backoffBase?: string | undefined;
  backoffMax?: string | undefined;
  expiresAt?: string | undefined;
  expiresIn?: string | undefined;
  afterAny?: readonly string[] | undefined;
  uniqueFor?: string | undefined;
}

/** Options every form of `enqueue` takes, as given on the command line. */
export interface EnqueueOptions {
  json: boolean;
  onConflict?: string | undefined;
  /** `--hold`: add the jobs held (README "Operating a queue"). */
  hold?: boolean | undefined;
  /** Wait for the jobs afterwards, as `wait` does. */
  wait?: boolean | undefined;
  /** `--wait-timeout`: how long `--wait` waits. */
  waitTimeout?: string | undefined;
}

/** The options of every form, checked before anything is read or added (exit 2). */
interface Checked {
  json: boolean;
  hold: boolean;
  onConflict: OnConflict | undefined;
  wait: boolean;
  waitTimeoutMs: number | undefined;
}

function check(options: EnqueueOptions): Checked {
  const onConflict = parseOnConflict(options.onConflict);
  if (options.waitTimeout !== undefined && !options.wait) {
    throw new UsageError("--wait-timeout needs --wait", "e.g. enqueue --wait --wait-timeout 10m");
  }
  return {
    json: options.json,
    hold: options.hold === true,
    onConflict,
    wait: options.wait === true,
    waitTimeoutMs: parseWaitTimeout(options.waitTimeout, "--wait-timeout"),
  };
}

/** The ids an enqueue stands for: each job added, or the job holding the key of one kept out. */
function standingIds(jobs: NewJob[], result: InsertResult): string[] {
  const kept = new Map(result.kept.map((k) => [k.id, k.existingId]));
  return [...new Set(jobs.map((job) => kept.get(job.id) ?? job.id))];
}

/** The summary line of a batch: `enqueued 9 jobs, 1 already queued by key`. */
export function batchSummary(result: InsertResult): string {
  const n = result.inserted;
  let line = `enqueued ${n} job${n === 1 ? "" : "s"}`;
  if (result.kept.length > 0) line += `, ${result.kept.length} already queued by key`;
  if (result.replaced.length > 0) {
    line += `, replacing ${result.replaced.length} active job${
      result.replaced.length === 1 ? "" : "s"
    } by key`;
  }
  return line;
}

/**
 * Inserts the jobs and prints what happened: for one job its id (or, with
 * `json`, the job), for a batch (`many`) the summary line (or the array of
 * jobs added). A job kept out by its key prints the id of the job holding
 * the key, with a note on stderr. With `wait`, then waits for the jobs; with
 * `json` the jobs are printed once, as they ended.
 */
async function insert(
  ctx: CliContext,
  jobs: NewJob[],
  now: number,
  options: Checked,
  many: boolean,
  onInserted?: () => void,
): Promise<void> {
  if (options.hold) { for (const job of jobs) job.hold = true; }
  await withStorage(ctx, async (store) => {
    const result = await store.jobInsertMany({ jobs, now, onConflict: options.onConflict });
    onInserted?.();
    for (const kept of many ? [] : result.kept) {
      ctx.err(`job with key "${kept.key}" already exists: ${kept.existingId}`);
    }
    if (!many && result.replaced.length > 0) {
      ctx.err(`replaced job ${result.replaced.join(", ")} (same key "${jobs[0]!.key}")`);
    }
    // A batch of 100,000 builds no list of ids unless it waits.
    const single = many ? null : result.kept[0]?.existingId ?? jobs[0]!.id;
    if (!options.json) ctx.out(single ?? batchSummary(result));
    else if (!options.wait) {
      const inserted = insertedJobs(jobs, now, result);
      let shown: Job | Job[] | null = many ? inserted : inserted[0] ?? null;
      if (shown === null) shown = await store.jobGet({ id: single! });
      printJson(ctx, shown);
    }
    if (!options.wait) return;
    const ids = single === null ? standingIds(jobs, result) : [single];
    const waited = await waitForJobs(store, ids, options.waitTimeoutMs);
    if (options.json) printJson(ctx, many ? waited.jobs : waited.jobs[0]);
    reportWait(ctx, waited, false, options.waitTimeoutMs);
  });
}

/** `enqueue '<json>'`: prints the new job's id (or the job with `--json`). */
export async function enqueueJson(
  ctx: CliContext,
  text: string,
  options: EnqueueOptions,
): Promise<void> {
  const checked = check(options);
  const now = Date.now();
  const job = await parseJobJson(text, now);
  await insert(ctx, [job], now, checked, false);
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
  common: EnqueueOptions,
): Promise<void> {
  const checked = check(common);
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
    ["after", options.after?.length ? [...options.after] : undefined],
    ["key", options.key],
    ["tags", options.tag?.length ? [...options.tag] : undefined],
    ["retry_on", retryOnList(options.retryOn)],
    ["group", options.group],
    ["backoff_base", numberOrText(options.backoffBase)],
    ["backoff_max", numberOrText(options.backoffMax)],
    ["expires_at", expiry(options, now)],
    ["after_any", options.afterAny?.length ? [...options.afterAny] : undefined],
    ["unique_for", numberOrText(options.uniqueFor)],
  ];
  for (const [key, value] of fields) if (value !== undefined) input[key] = value;
  const job = await parseJobInput(input, now);
  await insert(ctx, [job], now, checked, false);
}

/** `--expires-at T` as given, or `--expires-in D` as the ISO time D from `now`. */
function expiry(options: EnqueueCommandOptions, now: number): string | undefined {
  if (options.expiresIn === undefined) return options.expiresAt;
  if (options.expiresAt !== undefined) {
    throw new UsageError("Give --expires-at or --expires-in, not both");
  }
  const ms = parseDuration(options.expiresIn);
  if (ms === null) {
    throw new UsageError(
      `Invalid --expires-in "${options.expiresIn}"`,
      'use seconds or parts like "90s", "5m", "1h30m"',
    );
  }
  return new Date(now + ms).toISOString();
}

/** `--retry-on 75,timeout` as the `retry_on` field; the job's validation judges each entry. */
function retryOnList(value: string | undefined): unknown[] | undefined {
  if (value === undefined) return undefined;
  return value.split(",").map((part) => {
    const text = part.trim();
    return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  });
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
export async function enqueueFile(
  ctx: CliContext,
  path: string,
  options: EnqueueOptions,
): Promise<void> {
  const checked = check(options);
  const text = await readSource(path);
  const now = Date.now();
  const progress = !checked.json && Deno.stderr.isTerminal() && countLines(text) >= 20_000;
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
  let inserted = false;
  const cleared = () => {
    inserted = true;
    if (progress) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
  };
  try {
    await insert(ctx, jobs, now, checked, true, cleared);
  } catch (error) {
    if (!inserted && error instanceof ConflictError) throwFirstRepeat(jobs, lineOf);
    throw error;
  }
}
