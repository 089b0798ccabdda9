/**
 * What job input may contain: the field names, their shape, and the
 * pattern of ids and queue names. Shared by the plain checks
 * (`job_input.ts`) and the schema that words a refusal
 * (`job_input_schema.ts`), so neither imports the other for them.
 */

/** The pattern ids and queue names must match. */
export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** The fields a job may have; every other field is refused by name. */
export const JOB_INPUT_FIELDS = [
  "id",
  "command",
  "max_retries",
  "priority",
  "run_at",
  "delay",
  "timeout",
  "queue",
  "env",
  "cwd",
  "after",
  "key",
  "retry_on",
  "group",
  "backoff_base",
  "backoff_max",
  "expires_at",
  "after_any",
  "unique_for",
  "on_finish",
  "tags",
] as const;

/** The most tags a job may have, and the longest tag (README "Operating a queue"). */
export const MAX_TAGS = 20;
/** The longest tag, in UTF-16 code units. */
export const MAX_TAG_LENGTH = 64;

/** The longest unique key (README "Job flow"). */
export const MAX_KEY_LENGTH = 256;

/** The longest group name (README "Flow control"). */
export const MAX_GROUP_LENGTH = 128;

/** The highest exit code `retry_on` may list (exit codes are 0-255; 0 is success). */
export const MAX_EXIT_CODE = 255;

/** The shape of a job's input before defaults and times are applied. */
export interface JobInput {
  id?: string | undefined;
  command: string;
  max_retries?: number | undefined;
  priority?: number | undefined;
  run_at?: string | undefined;
  delay?: number | string | undefined;
  timeout?: number | undefined;
  queue?: string | undefined;
  env?: Record<string, string> | undefined;
  cwd?: string | undefined;
  /** An id, or ids, of jobs that must complete first. */
  after?: string | string[] | undefined;
  /** At most one active job holds a key. */
  key?: string | undefined;
  /** The failures that are retried: exit codes 1-255 and/or `"timeout"`. */
  retry_on?: (number | "timeout")[] | undefined;
  /** Jobs of one group of a queue share its `group_concurrency`. */
  group?: string | undefined;
  /** This job's `backoff_base` (at least 1) instead of the setting. */
  backoff_base?: number | undefined;
  /** This job's `backoff_max` in seconds instead of the setting. */
  backoff_max?: number | undefined;
  /** Not started by then: cancelled with last_error "expired". */
  expires_at?: string | undefined;
  /** An id, or ids, of jobs that must be final (whatever the outcome) first. */
  after_any?: string | string[] | undefined;
  /** With `key`: the key stays taken this long after enqueue (seconds or a duration). */
  unique_for?: number | string | undefined;
  /** A shell command run after each attempt's end (README "Hooks"). */
  on_finish?: string | undefined;
  /** Labels: up to 20 strings of 1-64 characters. */
  tags?: string[] | undefined;
}
