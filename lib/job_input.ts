/**
 * Validation of job input (README "Jobs"): the JSON given to `enqueue`,
 * the API's POST body, and the options of `enqueue -- <cmd>` all pass
 * through {@linkcode parseJobInput}.
 *
 * Valid input is accepted by plain checks (`checkJobFields`); the zod
 * schema in `job_input_schema.ts`, which words every error, is imported
 * only when a check fails. Importing zod costs ~40 ms of start-up and its
 * parse ~3 µs a job, and nearly every job is valid.
 */
import { UsageError } from "./errors.ts";
import {
  ID_PATTERN,
  JOB_INPUT_FIELDS,
  type JobInput,
  MAX_EXIT_CODE,
  MAX_GROUP_LENGTH,
  MAX_KEY_LENGTH,
  MAX_TAG_LENGTH,
  MAX_TAGS,
} from "./job_fields.ts";
import { type NewJob, ON_CONFLICT, type OnConflict, type RetryOn } from "./job.ts";

const DURATION_PART = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)/y;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a delay: seconds as a number (fractions allowed), or a string of
 * `<number><unit>` parts (`"90s"`, `"1h30m"`, `"250ms"`), or a bare number
 * string meaning seconds. Returns milliseconds, or `null` when unparsable.
 */
export function parseDuration(value: number | string): number | null {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : null;
  }
  const text = value.trim();
  if (/^(\d+(\.\d+)?|\.\d+)$/.test(text)) return Math.round(Number(text) * 1000);
  if (text === "") return null;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const match = DURATION_PART.exec(text);
    if (!match) return null;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
  }
  return Math.round(total);
}

/** Parses an ISO-8601 date-time; returns epoch ms or `null`. */
export function parseIsoTime(text: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    return null;
  }
  // Date.parse rolls an impossible day over ("2026-02-30" becomes March 2): refuse it instead.
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(5, 7));
  const day = Number(text.slice(8, 10));
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(year, month, 0);
  if (month < 1 || month > 12 || day < 1 || day > lastDay.getUTCDate()) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

/** The latest time a Date (and so an ISO-8601 string) can hold, in epoch ms. */
const MAX_TIME = 8.64e15;

const ALLOWED = new Set<string>(JOB_INPUT_FIELDS);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function intIn(value: unknown, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

function isId(value: unknown): boolean {
  return typeof value === "string" && ID_PATTERN.test(value);
}

/** `after`: one id, or an array of ids (empty means none). */
function isAfter(value: unknown): boolean {
  return isId(value) || (Array.isArray(value) && value.every(isId));
}

function isNumberAtLeast(value: unknown, min: number): boolean {
  return typeof value === "number" && Number.isFinite(value) && value >= min;
}

/** `retry_on`: a non-empty array of exit codes 1-255 and `"timeout"`. */
function isRetryOn(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0 &&
    value.every((v) => v === "timeout" || intIn(v, 1, MAX_EXIT_CODE));
}

/** `tags`: up to 20 strings of 1-64 characters. */
export function isTags(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= MAX_TAGS &&
    value.every((t) => typeof t === "string" && t.length > 0 && t.length <= MAX_TAG_LENGTH);
}

/**
 * The fast path: the input when every field passes the same rules as the
 * zod schema, else `null` (then the schema words the error). It must never
 * accept what the schema refuses; a test holds the two side by side.
 */
export function checkJobFields(value: unknown): JobInput | null {
  if (!isPlainObject(value)) return null;
  for (const key in value) if (!ALLOWED.has(key)) return null;
  const v = value as Record<string, unknown> & Partial<Record<keyof JobInput, unknown>>;
  const ok = typeof v.command === "string" && v.command.trim().length > 0 &&
    (v.id === undefined || (typeof v.id === "string" && ID_PATTERN.test(v.id))) &&
    (v.max_retries === undefined || intIn(v.max_retries, 0, 100)) &&
    (v.priority === undefined || intIn(v.priority, -1_000_000_000, 1_000_000_000)) &&
    (v.run_at === undefined || typeof v.run_at === "string") &&
    (v.delay === undefined || typeof v.delay === "string" ||
      (typeof v.delay === "number" && Number.isFinite(v.delay))) &&
    (v.timeout === undefined ||
      (typeof v.timeout === "number" && Number.isFinite(v.timeout) && v.timeout >= 0)) &&
    (v.queue === undefined || (typeof v.queue === "string" && ID_PATTERN.test(v.queue))) &&
    (v.env === undefined ||
      (isPlainObject(v.env) && Object.values(v.env).every((e) => typeof e === "string"))) &&
    (v.cwd === undefined || (typeof v.cwd === "string" && v.cwd.length > 0)) &&
    (v.after === undefined || isAfter(v.after)) &&
    (v.key === undefined ||
      (typeof v.key === "string" && v.key.length > 0 && v.key.length <= MAX_KEY_LENGTH)) &&
    (v.retry_on === undefined || isRetryOn(v.retry_on)) &&
    (v.group === undefined ||
      (typeof v.group === "string" && v.group.length > 0 && v.group.length <= MAX_GROUP_LENGTH)) &&
    (v.backoff_base === undefined || isNumberAtLeast(v.backoff_base, 1)) &&
    (v.backoff_max === undefined || isNumberAtLeast(v.backoff_max, 0)) &&
    (v.expires_at === undefined || typeof v.expires_at === "string") &&
    (v.after_any === undefined || isAfter(v.after_any)) &&
    (v.unique_for === undefined || typeof v.unique_for === "string" ||
      (typeof v.unique_for === "number" && Number.isFinite(v.unique_for))) &&
    (v.on_finish === undefined || typeof v.on_finish === "string") &&
    (v.tags === undefined || isTags(v.tags));
  return ok ? (value as unknown as JobInput) : null;
}

/**
 * `--on-conflict` (and the API's `on_conflict`): what enqueueing a job
 * whose key is active does; `undefined` when absent (the store's default,
 * "keep"). Exit 2 for any other word.
 */
export function parseOnConflict(
  value: string | undefined,
  what = "--on-conflict",
): OnConflict | undefined {
  if (value === undefined) return undefined;
  if ((ON_CONFLICT as readonly string[]).includes(value)) return value as OnConflict;
  throw new UsageError(
    `Invalid ${what} "${value}"`,
    `use one of: ${ON_CONFLICT.join(", ")}`,
  );
}

/** Generates an id for a job given without one: time-ordered and unique enough. */
export function generateId(now: number): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  const suffix = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${now.toString(36)}-${suffix}`;
}

/**
 * Validates one job object and applies defaults, synchronously, for input
 * whose fields pass {@linkcode checkJobFields}; `null` otherwise (call
 * {@linkcode parseJobInput} for the error). Throws {@linkcode UsageError}
 * for a bad `run_at` or `delay`.
 */
export function tryParseJobInput(value: unknown, now: number, where = ""): NewJob | null {
  const input = checkJobFields(value);
  return input ? completeJobInput(input, now, where) : null;
}

/**
 * Validates one job object and applies defaults. `where` prefixes messages
 * (e.g. `line 3: `). Rejects with a {@linkcode UsageError} naming the field.
 */
export async function parseJobInput(value: unknown, now: number, where = ""): Promise<NewJob> {
  const fast = tryParseJobInput(value, now, where);
  if (fast) return fast;
  const { explainJobInput } = await import("./job_input_schema.ts");
  const result = explainJobInput(value);
  if (typeof result === "string") throw new UsageError(`${where}Invalid job: ${result}`);
  return completeJobInput(result, now, where);
}

/** Applies defaults and turns `run_at`/`delay` into the due time. */
function completeJobInput(input: JobInput, now: number, where: string): NewJob {
  if (input.run_at !== undefined && input.delay !== undefined) {
    throw new UsageError(`${where}Invalid job: give "run_at" or "delay", not both`);
  }
  let runAt = now;
  if (input.run_at !== undefined) {
    const at = parseIsoTime(input.run_at);
    if (at === null) {
      throw new UsageError(
        `${where}Invalid job: field "run_at" is not an ISO-8601 date-time: "${input.run_at}"`,
        'use a form like "2026-11-28T10:30:00Z"',
      );
    }
    runAt = Math.max(at, now);
  }
  if (input.delay !== undefined) {
    const ms = parseDuration(input.delay);
    if (ms === null) {
      throw new UsageError(
        `${where}Invalid job: field "delay" is not a duration: ${JSON.stringify(input.delay)}`,
        'use seconds or parts like "90s", "5m", "1h30m"',
      );
    }
    runAt = now + ms;
    if (runAt > MAX_TIME) {
      throw new UsageError(
        `${where}Invalid job: field "delay" is too long: ${JSON.stringify(input.delay)}`,
        'use seconds or parts like "90s", "5m", "1h30m"',
      );
    }
  }
  const expiresAt = expiryOf(input, runAt, where);
  let uniqueFor: number | null = null;
  if (input.unique_for !== undefined) {
    const ms = parseDuration(input.unique_for);
    if (ms === null) {
      throw new UsageError(
        `${where}Invalid job: field "unique_for" is not a duration: ${
          JSON.stringify(input.unique_for)
        }`,
        'use seconds or parts like "90s", "5m", "1h30m"',
      );
    }
    if (input.key === undefined) {
      throw new UsageError(
        `${where}Invalid job: field "unique_for" needs a "key"`,
        "the window keeps a key taken: give the job a key (--key K)",
      );
    }
    uniqueFor = ms / 1000;
  }
  return {
    id: input.id ?? generateId(now),
    command: input.command,
    queue: input.queue ?? "default",
    priority: input.priority ?? 0,
    max_retries: input.max_retries ?? null,
    timeout: input.timeout ?? null,
    env: input.env ?? null,
    cwd: input.cwd ?? null,
    run_at: runAt,
    after: normaliseAfter(input.after),
    key: input.key ?? null,
    retry_on: input.retry_on ? [...new Set<RetryOn>(input.retry_on)] : null,
    group: input.group ?? null,
    backoff_base: input.backoff_base ?? null,
    backoff_max: input.backoff_max ?? null,
    expires_at: expiresAt,
    after_any: normaliseAfter(input.after_any),
    unique_for: uniqueFor,
    on_finish: input.on_finish ? input.on_finish : null,
    tags: input.tags?.length ? [...new Set(input.tags)] : null,
  };
}

/** `expires_at` as epoch ms (`null` for none); refused when unparsable or before the due time. */
function expiryOf(input: JobInput, runAt: number, where: string): number | null {
  if (input.expires_at === undefined) return null;
  const at = parseIsoTime(input.expires_at);
  if (at === null) {
    throw new UsageError(
      `${where}Invalid job: field "expires_at" is not an ISO-8601 date-time: "${input.expires_at}"`,
      'use a form like "2026-11-28T10:30:00Z"',
    );
  }
  if (runAt > at) {
    throw new UsageError(
      `${where}Invalid job: it expires (${new Date(at).toISOString()}) before it is due (${
        new Date(runAt).toISOString()
      })`,
      "give a later expiry, or an earlier run_at or delay",
    );
  }
  return at;
}

/** `after` as stored: an array of distinct ids in the order given, or `null` for none. */
function normaliseAfter(after: string | string[] | undefined): string[] | null {
  if (after === undefined) return null;
  if (typeof after === "string") return [after];
  return after.length === 0 ? null : [...new Set(after)];
}

/**
 * Parses JSON text that must hold one object (not yet checked as a job);
 * throws a {@linkcode UsageError} for text that is not JSON or not an object.
 */
export function parseJsonObject(text: string, where = ""): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof SyntaxError ? error.message : String(error);
    throw new UsageError(
      `${where}Invalid job: not valid JSON (${detail})`,
      `pass an object like '{"command":"echo hi"}'`,
    );
  }
  if (!isPlainObject(value)) {
    throw new UsageError(
      `${where}Invalid job: a job must be a JSON object`,
      `pass an object like '{"command":"echo hi"}'`,
    );
  }
  return value;
}

/** Parses JSON text holding one job object; `where` prefixes messages. */
export async function parseJobJson(text: string, now: number, where = ""): Promise<NewJob> {
  return await parseJobInput(parseJsonObject(text, where), now, where);
}
