/**
 * Parsing of option values the CLI and the HTTP API share (`--state`,
 * `--limit`, `--attempt` and their query-string twins), so both refuse the
 * same input with the same message.
 */
import { UsageError } from "./errors.ts";
import { isJobState, JOB_STATES, type JobState } from "./job.ts";
import { ID_PATTERN } from "./job_fields.ts";
import { parseDuration } from "./job_input.ts";

/** The most jobs one process runs at once (`worker start --count`, `dashboard --workers`). */
export const MAX_COUNT = 256;

/** A state filter, naming the states allowed; `undefined` when absent. */
export function parseState(value: string | undefined): JobState | undefined {
  if (value === undefined) return undefined;
  if (isJobState(value)) return value;
  throw new UsageError(`Unknown state "${value}"`, `use one of: ${JOB_STATES.join(", ")}`);
}

/** A positive integer named `what` (e.g. "limit"); `undefined` when absent or empty. */
export function parsePositiveInt(what: string, value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`Invalid ${what} "${value}"`, "use a positive integer");
  }
  return n;
}

/** A page size; `fallback` when absent. */
export function parseLimit(value: string | undefined, fallback = 50): number {
  return parsePositiveInt("limit", value) ?? fallback;
}

/** A queue name (the pattern of job ids), for `queue pause|resume|set` and the API. */
export function parseQueueName(value: string): string {
  if (ID_PATTERN.test(value)) return value;
  throw new UsageError(
    `Invalid queue name "${value}"`,
    "use 1-128 characters of A-Z a-z 0-9 . _ : -",
  );
}

/** The most jobs of one queue a limit may allow (beyond it, say 0: no limit). */
export const MAX_CONCURRENCY = 1_000_000;

/** A queue's concurrency limit: an integer from 0 (no limit) up. */
export function parseConcurrency(value: string | number | undefined): number {
  const text = String(value ?? "").trim();
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_CONCURRENCY) {
    throw new UsageError(
      `Invalid concurrency "${value ?? ""}"`,
      `use an integer from 0 (no limit) to ${MAX_CONCURRENCY}`,
    );
  }
  return n;
}

/** A duration option such as `--completed-older-than` ("7d", "12h", seconds), in ms. */
export function parseDurationOption(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === null) {
    throw new UsageError(
      `Invalid duration "${value}" for ${flag}`,
      'use seconds or parts like "90s", "12h", "7d"',
    );
  }
  return ms;
}

/** Checks `--count`: an integer from 1 to {@linkcode MAX_COUNT}. */
export function parseCount(value: string): number {
  const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_COUNT) {
    throw new UsageError(
      `Invalid worker count "${value}"`,
      `use an integer from 1 to ${MAX_COUNT}`,
    );
  }
  return n;
}

/** A queue's rate limit: at most `limit` starts in any window of `periodMs` (README "Flow control"). */
export interface RateLimit {
  limit: number;
  periodMs: number;
}

/**
 * `--rate N/PERIOD` (`10/1s`, `600/1m`, `5/500ms`): N a positive integer,
 * PERIOD a duration above zero (a bare number is seconds); `off` is `null`.
 */
export function parseRate(value: string | undefined): RateLimit | null {
  const text = String(value ?? "").trim();
  if (text === "off") return null;
  const match = /^(\d+)\/(.+)$/.exec(text);
  const limit = match ? Number(match[1]) : NaN;
  const periodMs = match ? parseDuration(match[2]!) : null;
  if (
    !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_CONCURRENCY ||
    periodMs === null || periodMs <= 0
  ) {
    throw new UsageError(
      `Invalid rate "${value ?? ""}"`,
      'use N/PERIOD with N >= 1 and a period above 0, e.g. "10/1s" or "600/1m", or "off"',
    );
  }
  return { limit, periodMs };
}

/** A rate limit as `--rate` takes it: `10/1s`, `600/1m`, `5/500ms`. */
export function formatRate(rate: RateLimit): string {
  const ms = rate.periodMs;
  const period = ms % 3_600_000 === 0
    ? `${ms / 3_600_000}h`
    : ms % 60_000 === 0
    ? `${ms / 60_000}m`
    : ms % 1000 === 0
    ? `${ms / 1000}s`
    : `${ms}ms`;
  return `${rate.limit}/${period}`;
}

/** A queue's group concurrency: an integer from 0 (no limit) up. */
export function parseGroupConcurrency(value: string | number | undefined): number {
  const text = String(value ?? "").trim();
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_CONCURRENCY) {
    throw new UsageError(
      `Invalid group concurrency "${value ?? ""}"`,
      `use an integer from 0 (no limit) to ${MAX_CONCURRENCY}`,
    );
  }
  return n;
}

/** Checks `--queue` names. */
export function parseQueues(values: readonly string[] | undefined): string[] | null {
  if (!values || values.length === 0) return null;
  for (const q of values) {
    if (!ID_PATTERN.test(q)) {
      throw new UsageError(
        `Invalid queue name "${q}"`,
        "use 1-128 characters of A-Z a-z 0-9 . _ : -",
      );
    }
  }
  return [...new Set(values)];
}
