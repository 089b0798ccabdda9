/**
 * Parsing of option values the CLI and the HTTP API share (`--state`,
 * `--limit`, `--attempt` and their query-string twins), so both refuse the
 * same input with the same message.
 */
import { UsageError } from "./errors.ts";
import { isJobState, JOB_STATES, type JobState } from "./job.ts";

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
