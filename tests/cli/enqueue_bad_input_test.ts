/**
 * Every bad input the README lists given to `enqueue`, each its own test:
 * the exit code, one `error: ` line on stderr without a stack trace, and a
 * database left exactly as it was.
 */
import { registerRefusals } from "./_cli.ts";

const job = (fields: Record<string, unknown>) => JSON.stringify({ command: "echo hi", ...fields });

registerRefusals([
  // enqueue '<json>': the text and its shape
  {
    name: "enqueue refuses text that is not JSON",
    args: ["enqueue", "{command: echo hi}"],
    code: 2,
    says: [/not valid JSON/],
  },
  {
    name: "enqueue refuses a JSON array",
    args: ["enqueue", '[{"command":"echo hi"}]'],
    code: 2,
    says: [/must be a JSON object/],
  },
  {
    name: "enqueue refuses a JSON number",
    args: ["enqueue", "42"],
    code: 2,
    says: [/must be a JSON object/],
  },
  {
    name: "enqueue refuses a JSON string",
    args: ["enqueue", '"echo hi"'],
    code: 2,
    says: [/must be a JSON object/],
  },
  {
    name: "enqueue refuses JSON null",
    args: ["enqueue", "null"],
    code: 2,
    says: [/must be a JSON object/],
  },
  {
    name: "enqueue refuses a job without a command",
    args: ["enqueue", '{"id":"nocmd"}'],
    code: 2,
    says: [/"command"/],
  },
  {
    name: "enqueue refuses an empty command",
    args: ["enqueue", job({ command: "" })],
    code: 2,
    says: [/"command" must be a non-empty string/],
  },
  {
    name: "enqueue refuses a command of only spaces",
    args: ["enqueue", job({ command: "   " })],
    code: 2,
    says: [/"command" must be a non-empty string/],
  },
  {
    name: "enqueue refuses a command that is not a string",
    args: ["enqueue", job({ command: ["echo", "hi"] })],
    code: 2,
    says: [/"command" must be a non-empty string/],
  },
  {
    name: "enqueue refuses a job with an unknown field and names it",
    args: ["enqueue", job({ colour: "red" })],
    code: 2,
    says: [/unknown field "colour"/, /allowed: id, command/],
  },
  {
    name: "enqueue refuses a job with several unknown fields and names each",
    args: ["enqueue", job({ retries: 3, runAt: "2030-01-01T00:00:00Z" })],
    code: 2,
    says: [/unknown fields "retries", "runAt"/],
  },
  // ids
  {
    name: "enqueue refuses an id longer than 128 characters",
    args: ["enqueue", job({ id: "x".repeat(129) })],
    code: 2,
    says: [/"id" must be 1-128 characters/],
  },
  {
    name: "enqueue refuses an id with characters outside A-Z a-z 0-9 . _ : -",
    args: ["enqueue", job({ id: "my job/1" })],
    code: 2,
    says: [/"id" must be 1-128 characters of A-Z a-z 0-9 \. _ : -/],
  },
  {
    name: "enqueue refuses an empty id",
    args: ["enqueue", job({ id: "" })],
    code: 2,
    says: [/"id"/],
  },
  {
    name: "enqueue refuses an id that already exists with exit 1",
    args: ["enqueue", job({ id: "p1" })],
    code: 1,
    says: [/"p1"/, /already exists/],
  },
  // numbers
  {
    name: "enqueue refuses a negative max_retries",
    args: ["enqueue", job({ max_retries: -1 })],
    code: 2,
    says: [/"max_retries" must be an integer/],
  },
  {
    name: "enqueue refuses a fractional max_retries",
    args: ["enqueue", job({ max_retries: 1.5 })],
    code: 2,
    says: [/"max_retries" must be an integer/],
  },
  {
    name: "enqueue refuses max_retries given as text",
    args: ["enqueue", job({ max_retries: "3" })],
    code: 2,
    says: [/"max_retries" must be an integer/],
  },
  {
    name: "enqueue refuses a fractional priority",
    args: ["enqueue", job({ priority: 0.5 })],
    code: 2,
    says: [/"priority" must be an integer/],
  },
  {
    name: "enqueue refuses a negative timeout",
    args: ["enqueue", job({ timeout: -5 })],
    code: 2,
    says: [/"timeout" must be a number of seconds >= 0/],
  },
  // times
  {
    name: "enqueue refuses an unparsable run_at and quotes it",
    args: ["enqueue", job({ run_at: "next friday" })],
    code: 2,
    says: [/"run_at" is not an ISO-8601 date-time: "next friday"/],
  },
  {
    name: "enqueue refuses a run_at on a day that does not exist",
    args: ["enqueue", job({ run_at: "2030-02-30T10:00:00Z" })],
    code: 2,
    says: [/"run_at"/],
  },
  {
    name: "enqueue refuses an unparsable delay and quotes it",
    args: ["enqueue", job({ delay: "5 parsecs" })],
    code: 2,
    says: [/"delay" is not a duration: "5 parsecs"/],
  },
  {
    name: "enqueue refuses a negative delay",
    args: ["enqueue", job({ delay: -30 })],
    code: 2,
    says: [/"delay"/],
  },
  {
    name: "enqueue refuses a delay too long to be a date",
    args: ["enqueue", job({ delay: 1e300 })],
    code: 2,
    says: [/"delay"/],
  },
  {
    name: "enqueue refuses both run_at and delay",
    args: ["enqueue", job({ run_at: "2030-01-01T00:00:00Z", delay: "5m" })],
    code: 2,
    says: [/"run_at" or "delay", not both/],
  },
  // env, queue
  {
    name: "enqueue refuses an env value that is not a string",
    args: ["enqueue", job({ env: { PORT: 8080 } })],
    code: 2,
    says: [/"env" must be an object of strings/],
  },
  {
    name: "enqueue refuses an env that is not an object",
    args: ["enqueue", job({ env: ["PORT=8080"] })],
    code: 2,
    says: [/"env" must be an object of strings/],
  },
  {
    name: "enqueue refuses a queue name with a space",
    args: ["enqueue", job({ queue: "night shift" })],
    code: 2,
    says: [/"queue"/],
  },
  // enqueue usage
  {
    name: "enqueue refuses to run with nothing to enqueue",
    args: ["enqueue"],
    code: 2,
    says: [/Nothing to enqueue/],
  },
  {
    name: "enqueue refuses two JSON arguments",
    args: ["enqueue", job({ id: "a" }), job({ id: "b" })],
    code: 2,
    says: [/one JSON argument/],
  },
  {
    name: "enqueue refuses job options without a command after --",
    args: ["enqueue", "--priority", "5", job({})],
    code: 2,
    says: [/--/],
  },
  {
    name: "enqueue refuses a command of empty words after --",
    args: ["enqueue", "--", ""],
    code: 2,
    says: [/Nothing to enqueue/],
  },
  {
    name: "enqueue -- refuses a --priority that is not a number",
    args: ["enqueue", "--priority", "high", "--", "echo", "hi"],
    code: 2,
    says: [/"priority" must be an integer/],
  },
  {
    name: "enqueue -- refuses a negative --max-retries",
    args: ["enqueue", "--max-retries", "-1", "--", "echo", "hi"],
    code: 2,
    says: [/"max_retries"/],
  },
  {
    name: "enqueue -- refuses an unparsable --delay",
    args: ["enqueue", "--delay", "later", "--", "echo", "hi"],
    code: 2,
    says: [/"delay" is not a duration: "later"/],
  },
  {
    name: "enqueue -- refuses an unparsable --run-at",
    args: ["enqueue", "--run-at", "noon", "--", "echo", "hi"],
    code: 2,
    says: [/"run_at"/],
  },
  {
    name: "enqueue -- refuses --delay together with --run-at",
    args: ["enqueue", "--delay", "5m", "--run-at", "2030-01-01T00:00:00Z", "--", "echo"],
    code: 2,
    says: [/not both/],
  },
  {
    name: "enqueue -- refuses an id that already exists with exit 1",
    args: ["enqueue", "--id", "d1", "--", "echo", "hi"],
    code: 1,
    says: [/"d1"/, /already exists/],
  },
  // enqueue --file
  {
    name: "enqueue --file refuses a batch with a bad line, naming the line, and inserts nothing",
    args: ["enqueue", "--file"],
    file: [job({ id: "b1" }), "", job({ id: "b2" }), job({ id: "b3", colour: 1 })].join("\n"),
    code: 2,
    says: [/^error: line 4: /, /unknown field "colour"/],
  },
  {
    name: "enqueue --file refuses a batch with a line that is not JSON, naming the line",
    args: ["enqueue", "--file"],
    file: [job({ id: "b1" }), "not json", job({ id: "b3" })].join("\n"),
    code: 2,
    says: [/^error: line 2: /, /not valid JSON/],
  },
  {
    name: "enqueue --file refuses a batch with a line that is not an object, naming the line",
    args: ["enqueue", "--file"],
    file: [job({ id: "b1" }), "[1, 2]"].join("\n"),
    code: 2,
    says: [/^error: line 2: /, /must be a JSON object/],
  },
  {
    name: "enqueue --file refuses an id repeated inside the batch with exit 1 and inserts nothing",
    args: ["enqueue", "--file"],
    file: [job({ id: "b1" }), job({ id: "b2" }), job({ id: "b1" })].join("\n"),
    code: 1,
    says: [/"b1"/, /line 3/, /line 1/],
  },
  {
    name: "enqueue --file names an id repeated far into a large batch, and inserts nothing",
    args: ["enqueue", "--file"],
    file: Array.from({ length: 1_234 }, (_, i) => job({ id: i === 1_099 ? "n2" : `n${i}` }))
      .join("\n"),
    code: 1,
    says: [/^error: line 1100: /, /"n2"/, /line 3/],
  },
  {
    name: "enqueue --file reports a repeated id before a later bad line",
    args: ["enqueue", "--file"],
    file: [job({ id: "b1" }), job({ id: "b2" }), job({ id: "b1" }), "not json"].join("\n"),
    code: 1,
    says: [/^error: line 3: /, /"b1"/, /line 1/],
  },
  {
    name: "enqueue --file reports a bad line before a later repeated id",
    args: ["enqueue", "--file"],
    file: [job({ id: "b1" }), "not json", job({ id: "b1" })].join("\n"),
    code: 2,
    says: [/^error: line 2: /, /not valid JSON/],
  },
  {
    name: "enqueue --file refuses a batch holding an id that already exists with exit 1",
    args: ["enqueue", "--file"],
    file: [job({ id: "b1" }), job({ id: "c1" }), job({ id: "b3" })].join("\n"),
    code: 1,
    says: [/"c1"/, /already exists/],
  },
  {
    name: "enqueue --file refuses a file with no jobs in it",
    args: ["enqueue", "--file"],
    file: "\n  \n\n",
    code: 2,
    says: [/No jobs/],
  },
  {
    name: "enqueue --file - refuses a bad line read from stdin, naming the line",
    args: ["enqueue", "--file", "-"],
    stdin: [job({ id: "s1" }), job({ id: "s2", max_retries: -2 })].join("\n"),
    code: 2,
    says: [/^error: line 2: /, /"max_retries"/],
  },
  {
    name: "enqueue --file refuses a file that does not exist",
    args: ["enqueue", "--file", "/nonexistent/jobs.ndjson"],
    code: 2,
    says: [/"\/nonexistent\/jobs\.ndjson"/, /no such file/],
  },
  {
    name: "enqueue --file refuses job options beside it",
    args: ["enqueue", "--priority", "5", "--file", "-"],
    stdin: job({ id: "s1" }),
    code: 2,
    says: [/--file/],
  },
]);
