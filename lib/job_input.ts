/**
 * Validation of job input (SPEC section 4) with zod: the JSON given to
 * `enqueue`, the API's POST body, and the options of `enqueue -- <cmd>` all
 * pass through {@linkcode parseJobInput}.
 */
import { z } from "zod";
import { UsageError } from "./errors.ts";
import type { NewJob } from "./job.ts";

/** The pattern ids and queue names must match. */
export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

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

const field = (name: string, rule: string) => ({ error: `field "${name}" must be ${rule}` });

const JobInputSchema = z.strictObject({
  id: z.string(field("id", "a string")).regex(
    ID_PATTERN,
    `field "id" must be 1-128 characters of A-Z a-z 0-9 . _ : -`,
  ).optional(),
  command: z.string(field("command", "a non-empty string")).refine(
    (s) => s.trim().length > 0,
    `field "command" must be a non-empty string`,
  ),
  max_retries: z.int(field("max_retries", "an integer from 0 to 100")).min(0).max(100)
    .optional(),
  priority: z.int(field("priority", "an integer")).min(-1_000_000_000).max(1_000_000_000)
    .optional(),
  run_at: z.string(field("run_at", "an ISO-8601 date-time")).optional(),
  delay: z.union([z.number(), z.string()], field("delay", 'seconds or a duration like "5m"'))
    .optional(),
  timeout: z.number(field("timeout", "a number of seconds >= 0")).min(0).optional(),
  queue: z.string(field("queue", "a string")).regex(
    ID_PATTERN,
    `field "queue" must be 1-128 characters of A-Z a-z 0-9 . _ : -`,
  ).optional(),
  env: z.record(
    z.string(),
    z.string(field("env", "an object of strings")),
    field(
      "env",
      "an object of strings",
    ),
  ).optional(),
  cwd: z.string(field("cwd", "a non-empty string")).min(1).optional(),
}, {
  error: (issue) => {
    if (issue.code === "unrecognized_keys") {
      return `unknown field${issue.keys.length > 1 ? "s" : ""} ${
        issue.keys.map((k) => `"${k}"`).join(", ")
      }; allowed: id, command, max_retries, priority, run_at, delay, timeout, queue, env, cwd`;
    }
    if (issue.code === "invalid_type") return "a job must be a JSON object";
    return undefined;
  },
});

/** The shape of a job's input before defaults and times are applied. */
export type JobInput = z.infer<typeof JobInputSchema>;

function firstMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid job";
  const name = issue.path[0];
  // zod's own messages for ranges lack the field name; keep ours first.
  if (issue.message.startsWith("field ") || issue.message.startsWith("unknown field")) {
    return issue.message;
  }
  if (typeof name === "string") {
    const rules: Record<string, string> = {
      max_retries: "an integer from 0 to 100",
      priority: "an integer",
      timeout: "a number of seconds >= 0",
      cwd: "a non-empty string",
      env: "an object of strings",
    };
    return `field "${name}" must be ${rules[name] ?? "valid"}`;
  }
  return issue.message;
}

/** Generates an id for a job given without one: time-ordered and unique enough. */
export function generateId(now: number): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  const suffix = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${now.toString(36)}-${suffix}`;
}

/**
 * Validates one job object and applies defaults. `where` prefixes messages
 * (e.g. `line 3: `). Throws {@linkcode UsageError} naming the field.
 */
export function parseJobInput(value: unknown, now: number, where = ""): NewJob {
  const result = JobInputSchema.safeParse(value);
  if (!result.success) {
    throw new UsageError(`${where}Invalid job: ${firstMessage(result.error)}`);
  }
  const input = result.data;
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
  };
}

/** Parses JSON text holding one job object; `where` prefixes messages. */
export function parseJobJson(text: string, now: number, where = ""): NewJob {
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
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(
      `${where}Invalid job: a job must be a JSON object`,
      `pass an object like '{"command":"echo hi"}'`,
    );
  }
  return parseJobInput(value, now, where);
}
