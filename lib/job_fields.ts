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
  "on_finish",
] as const;

/** The longest unique key (README "Job flow"). */
export const MAX_KEY_LENGTH = 256;

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
  /** A shell command run after each attempt's end (README "Hooks"). */
  on_finish?: string | undefined;
}
