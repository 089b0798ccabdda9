/**
 * The zod schema of job input: it words the error when the plain checks of
 * `job_input.ts` refuse a job, and is imported only then (zod costs ~40 ms
 * of start-up). `checkJobFields()` must accept exactly what this accepts.
 */
import { z } from "zod";
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

const field = (name: string, rule: string) => ({ error: `field "${name}" must be ${rule}` });

/** What each field must be, as the error words it. */
const RULES: Record<string, string> = {
  max_retries: "an integer from 0 to 100",
  priority: "an integer",
  timeout: "a number of seconds >= 0",
  cwd: "a non-empty string",
  env: "an object of strings",
  after: "a job id or an array of job ids (1-128 characters of A-Z a-z 0-9 . _ : -)",
  key: `a string of 1-${MAX_KEY_LENGTH} characters`,
  retry_on: `a non-empty array of exit codes 1-${MAX_EXIT_CODE} and/or "timeout"`,
  group: `a string of 1-${MAX_GROUP_LENGTH} characters`,
  backoff_base: "a number >= 1",
  backoff_max: "a number of seconds >= 0",
  expires_at: "an ISO-8601 date-time",
  after_any: "a job id or an array of job ids (1-128 characters of A-Z a-z 0-9 . _ : -)",
  unique_for: 'seconds or a duration like "1h"',
  tags: `an array of at most ${MAX_TAGS} strings of 1-${MAX_TAG_LENGTH} characters`,
};

const rule = (name: string) => field(name, RULES[name]!);

/** The schema of a job's input; exported for the test that holds it beside the plain checks. */
export const JobInputSchema = z.strictObject({
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
  after: z.union([
    z.string().regex(ID_PATTERN, rule("after")),
    z.array(z.string().regex(ID_PATTERN, rule("after")), rule("after")),
  ], rule("after")).optional(),
  key: z.string(rule("key")).min(1, rule("key")).max(MAX_KEY_LENGTH, rule("key")).optional(),
  retry_on: z.array(
    z.union(
      [z.int(rule("retry_on")).min(1).max(MAX_EXIT_CODE), z.literal("timeout")],
      rule("retry_on"),
    ),
    rule("retry_on"),
  ).min(1, rule("retry_on")).optional(),
  group: z.string(rule("group")).min(1, rule("group")).max(MAX_GROUP_LENGTH, rule("group"))
    .optional(),
  backoff_base: z.number(rule("backoff_base")).min(1, rule("backoff_base")).optional(),
  backoff_max: z.number(rule("backoff_max")).min(0, rule("backoff_max")).optional(),
  expires_at: z.string(rule("expires_at")).optional(),
  after_any: z.union([
    z.string().regex(ID_PATTERN, rule("after_any")),
    z.array(z.string().regex(ID_PATTERN, rule("after_any")), rule("after_any")),
  ], rule("after_any")).optional(),
  unique_for: z.union([z.number(), z.string()], rule("unique_for")).optional(),
  on_finish: z.string(field("on_finish", "a string (a shell command)")).optional(),
  tags: z.array(
    z.string(rule("tags")).min(1, rule("tags")).max(MAX_TAG_LENGTH, rule("tags")),
    rule("tags"),
  ).max(MAX_TAGS, rule("tags")).optional(),
}, {
  error: (issue) => {
    if (issue.code === "unrecognized_keys") {
      return `unknown field${issue.keys.length > 1 ? "s" : ""} ${
        issue.keys.map((k) => `"${k}"`).join(", ")
      }; allowed: ${JOB_INPUT_FIELDS.join(", ")}`;
    }
    if (issue.code === "invalid_type") return "a job must be a JSON object";
    return undefined;
  },
});

function firstMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid job";
  const name = issue.path[0];
  // zod's own messages for ranges lack the field name; keep ours first.
  if (issue.message.startsWith("field ") || issue.message.startsWith("unknown field")) {
    return issue.message;
  }
  if (typeof name === "string") return `field "${name}" must be ${RULES[name] ?? "valid"}`;
  return issue.message;
}

// The schema and the hand-written type must describe the same input.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _sameShape: Same<z.infer<typeof JobInputSchema>, JobInput> = true;

/** The input when the schema accepts it, else the message naming the first problem. */
export function explainJobInput(value: unknown): JobInput | string {
  void _sameShape;
  const result = JobInputSchema.safeParse(value);
  return result.success ? result.data : firstMessage(result.error);
}
