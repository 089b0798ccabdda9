/**
 * `edit <id>` (README "Operating a queue"): the changes as given on the
 * command line or in the dashboard's form, checked by the same rules as a
 * job's input (README "Jobs") and turned into `JobChanges`.
 */
import { UsageError } from "./errors.ts";
import { ID_PATTERN } from "./job_fields.ts";
import { parseTags } from "./job_filter.ts";
import { parseIsoTime } from "./job_input.ts";
import type { JobChanges } from "./storage/storage.ts";

/** What `edit` takes, as text. */
export interface EditWords {
  command?: string | undefined;
  priority?: string | undefined;
  queue?: string | undefined;
  runAt?: string | undefined;
  maxRetries?: string | undefined;
  timeout?: string | undefined;
  tag?: readonly string[] | undefined;
  env?: readonly string[] | undefined;
}

function integer(flag: string, value: string, min: number, max: number, rule: string): number {
  const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`Invalid ${flag} "${value}"`, `use ${rule}`);
  }
  return n;
}

/**
 * The changes the words ask for; a `--run-at` in the past means now.
 * Nothing to change is a UsageError, as is any value a job would refuse.
 */
export function parseEdit(words: EditWords, now: number): JobChanges {
  const changes: JobChanges = {};
  if (words.command !== undefined) {
    if (words.command.trim() === "") {
      throw new UsageError("Invalid --command: it is empty", "give the shell command to run");
    }
    changes.command = words.command;
  }
  if (words.priority !== undefined) {
    changes.priority = integer(
      "--priority",
      words.priority,
      -1_000_000_000,
      1_000_000_000,
      "an integer",
    );
  }
  if (words.queue !== undefined) {
    if (!ID_PATTERN.test(words.queue)) {
      throw new UsageError(
        `Invalid queue name "${words.queue}"`,
        "use 1-128 characters of A-Z a-z 0-9 . _ : -",
      );
    }
    changes.queue = words.queue;
  }
  if (words.runAt !== undefined) {
    const at = parseIsoTime(words.runAt);
    if (at === null) {
      throw new UsageError(
        `Invalid time "${words.runAt}" for --run-at: not an ISO-8601 date-time`,
        'use a form like "2026-11-28T10:30:00Z"',
      );
    }
    changes.runAt = Math.max(at, now);
  }
  if (words.maxRetries !== undefined) {
    changes.max_retries = integer(
      "--max-retries",
      words.maxRetries,
      0,
      100,
      "an integer from 0 to 100",
    );
  }
  if (words.timeout !== undefined) {
    const n = /^\s*(\d+(\.\d+)?|\.\d+)\s*$/.test(words.timeout) ? Number(words.timeout) : NaN;
    if (!Number.isFinite(n)) {
      throw new UsageError(`Invalid --timeout "${words.timeout}"`, "use seconds >= 0 (0 for none)");
    }
    changes.timeout = n;
  }
  if (words.tag !== undefined && words.tag.length > 0) changes.tags = parseTags(words.tag);
  if (words.env !== undefined && words.env.length > 0) {
    const env: Record<string, string> = {};
    for (const pair of words.env) {
      const eq = pair.indexOf("=");
      if (eq <= 0) {
        throw new UsageError(
          `Invalid --env "${pair}"`,
          "use NAME=VALUE, e.g. --env LOG_LEVEL=debug",
        );
      }
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    changes.env = env;
  }
  if (Object.keys(changes).length === 0) {
    throw new UsageError(
      "Nothing to edit",
      "give --command, --priority, --queue, --run-at, --max-retries, --timeout, --tag or --env",
    );
  }
  return changes;
}
