/**
 * The filter of the actions by filter and of `list --tag` (README
 * "Operating a queue"), parsed from the words the CLI's flags and the
 * dashboard's query string share, so both refuse the same input alike.
 */
import { UsageError } from "./errors.ts";
import { MAX_TAG_LENGTH, MAX_TAGS } from "./job_fields.ts";
import { isTags } from "./job_input.ts";
import { parseDurationOption, parseQueueName, parseState } from "./options.ts";
import type { JobFilter } from "./storage/storage.ts";

/** A filter as given: `--state --queue --tag... --older-than --command-like`. */
export interface FilterWords {
  state?: string | undefined;
  queue?: string | undefined;
  tag?: readonly string[] | undefined;
  olderThan?: string | undefined;
  commandLike?: string | undefined;
}

/** The flags of a filter, for messages. */
export const FILTER_FLAGS = "--state, --queue, --tag, --older-than, --command-like";

/** Checks tags (`--tag`, the `tags` of an edit): at most 20 of 1-64 characters. */
export function parseTags(tags: readonly unknown[]): string[] {
  if (!isTags(tags)) {
    const bad = tags.find((t) =>
      typeof t !== "string" || t.length === 0 || t.length > MAX_TAG_LENGTH
    );
    throw new UsageError(
      bad === undefined
        ? `Too many tags: ${tags.length}`
        : typeof bad === "string"
        ? `Invalid tag "${
          bad.length > 20 ? `${bad.slice(0, 20)}…` : bad
        }": ${bad.length} characters`
        : `Invalid tag ${JSON.stringify(bad)}: not a string`,
      `give at most ${MAX_TAGS} tags of 1-${MAX_TAG_LENGTH} characters`,
    );
  }
  return [...new Set(tags)];
}

/**
 * The filter the words name, or `null` when they name nothing (no part
 * given). `now` turns `--older-than D` into "created before now - D".
 */
export function parseJobFilter(words: FilterWords, now: number): JobFilter | null {
  const filter: JobFilter = {};
  const text = (value: string | undefined) =>
    value === undefined || value === "" ? undefined : value;
  const state = text(words.state);
  if (state !== undefined) filter.state = parseState(state);
  const queue = text(words.queue);
  if (queue !== undefined) filter.queue = parseQueueName(queue);
  const tags = (words.tag ?? []).filter((t) => t !== "");
  if (tags.length > 0) filter.tags = parseTags(tags);
  const olderThan = text(words.olderThan);
  if (olderThan !== undefined) {
    filter.createdBefore = now - parseDurationOption("--older-than", olderThan);
  }
  const like = text(words.commandLike);
  if (like !== undefined) filter.commandLike = like;
  return Object.keys(filter).length > 0 ? filter : null;
}
