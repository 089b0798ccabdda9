import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { ID_PATTERN } from "../../lib/job_fields.ts";
import {
  generateId,
  parseDuration,
  parseIsoTime,
  parseJobInput,
  parseJobJson,
  parseOnConflict,
  tryParseJobInput,
} from "../../lib/job_input.ts";

const NOW = Date.UTC(2026, 10, 28, 10, 30, 0, 123);

/** Asserts that `fn` fails with a UsageError (exit 2) whose one line matches every pattern. */
async function assertInvalid(fn: () => unknown, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(async () => await fn(), (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    assert.equal(error.exitCode, 2);
    const line = error.hint ? `${error.message}; ${error.hint}` : error.message;
    assert.doesNotMatch(line, /\n/, "the message is one line");
    for (const pattern of patterns) assert.match(line, pattern);
    return true;
  });
}

/** A valid job through the synchronous fast path (fails the test if it is refused). */
const job = (fields: Record<string, unknown>) =>
  tryParseJobInput({ command: "true", ...fields }, NOW) ?? assert.fail("expected a valid job");
/** Any job through the full path, for refusals. */
const jobAsync = (fields: Record<string, unknown>) =>
  parseJobInput({ command: "true", ...fields }, NOW);

// --- parseDuration ---

Deno.test("parseDuration() reads unit strings like 90s, 5m, 2h, 1d and 250ms", () => {
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("5m"), 300_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("1d"), 86_400_000);
  assert.equal(parseDuration("250ms"), 250);
});

Deno.test("parseDuration() adds up several parts like 1h30m", () => {
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("1d2h3m4s5ms"), 86_400_000 + 7_200_000 + 180_000 + 4000 + 5);
  assert.equal(parseDuration("1m1m"), 120_000);
});

Deno.test("parseDuration() takes seconds as a number, fractions allowed", () => {
  assert.equal(parseDuration(1.5), 1500);
  assert.equal(parseDuration(0), 0);
  assert.equal(parseDuration(30), 30_000);
  assert.equal(parseDuration(0.0004), 0);
});

Deno.test("parseDuration() takes a bare number string as seconds", () => {
  assert.equal(parseDuration("30"), 30_000);
  assert.equal(parseDuration("1.5"), 1500);
  assert.equal(parseDuration(".5"), 500);
  assert.equal(parseDuration(" 2 "), 2000);
});

Deno.test("parseDuration() takes fractional parts like 1.5h and .5s", () => {
  assert.equal(parseDuration("1.5h"), 5_400_000);
  assert.equal(parseDuration(".5s"), 500);
});

Deno.test("parseDuration() refuses negative, infinite and NaN numbers", () => {
  assert.equal(parseDuration(-1), null);
  assert.equal(parseDuration(Number.NaN), null);
  assert.equal(parseDuration(Number.POSITIVE_INFINITY), null);
});

Deno.test("parseDuration() refuses text that is not a duration", () => {
  for (
    const text of ["", "  ", "abc", "5x", "s", "-5", "-5s", "5m5", "1h 30m", "5 m", "1e3", "5mm"]
  ) {
    assert.equal(parseDuration(text), null, JSON.stringify(text));
  }
});

// --- parseIsoTime ---

Deno.test("parseIsoTime() reads UTC times with milliseconds", () => {
  assert.equal(parseIsoTime("2026-11-28T10:30:00.123Z"), NOW);
});

Deno.test("parseIsoTime() applies a zone offset, with or without a colon", () => {
  assert.equal(parseIsoTime("2026-11-28T12:30:00.123+02:00"), NOW);
  assert.equal(parseIsoTime("2026-11-28T12:30:00.123+0200"), NOW);
  assert.equal(parseIsoTime("2026-11-28T05:30:00.123-05:00"), NOW);
});

Deno.test("parseIsoTime() reads a date alone as midnight UTC", () => {
  assert.equal(parseIsoTime("2026-11-28"), Date.UTC(2026, 10, 28));
});

Deno.test("parseIsoTime() accepts the 29th of February in a leap year only", () => {
  assert.equal(parseIsoTime("2028-02-29T00:00:00Z"), Date.UTC(2028, 1, 29));
  assert.equal(parseIsoTime("2026-02-29T00:00:00Z"), null);
});

Deno.test("parseIsoTime() refuses text that is not an ISO-8601 date-time", () => {
  for (
    const text of [
      "",
      "tomorrow",
      "now",
      "1795861800123",
      "28/11/2026",
      "Nov 28 2026",
      "2026-11-28T10:30:00.123Zjunk",
      "2026-13-01T00:00:00Z",
      "2026-00-10T00:00:00Z",
      "2026-11-00T00:00:00Z",
      "2026-11-28T25:00:00Z",
      "2026-11-28T10:61:00Z",
    ]
  ) {
    assert.equal(parseIsoTime(text), null, JSON.stringify(text));
  }
});

Deno.test("parseIsoTime() refuses days that do not exist instead of rolling them over", () => {
  assert.equal(parseIsoTime("2026-02-30T00:00:00Z"), null);
  assert.equal(parseIsoTime("2026-04-31"), null);
  assert.equal(parseIsoTime("2026-11-32T00:00:00Z"), null);
});

// --- parseJobInput ---

Deno.test("parseJobInput() fills in defaults for a job given only its command", async () => {
  const parsed = await parseJobInput({ command: "echo hi" }, NOW);
  assert.match(parsed.id, ID_PATTERN);
  assert.deepEqual({ ...parsed, id: "x" }, {
    id: "x",
    command: "echo hi",
    queue: "default",
    priority: 0,
    max_retries: null,
    timeout: null,
    env: null,
    cwd: null,
    run_at: NOW,
    after: null,
    key: null,
    retry_on: null,
    group: null,
    backoff_base: null,
    backoff_max: null,
    expires_at: null,
    after_any: null,
    unique_for: null,
    on_finish: null,
    tags: null,
  });
});

Deno.test("parseJobInput() keeps every field given", async () => {
  const parsed = await parseJobInput({
    id: "backup-1",
    command: "tar czf b.tgz .",
    max_retries: 5,
    priority: -3,
    run_at: "2027-01-01T00:00:00.000Z",
    timeout: 1.5,
    queue: "nightly",
    env: { A: "1", B: "" },
    cwd: "/srv",
    after: ["fetch", "build"],
    key: "nightly backup",
    retry_on: [75, "timeout"],
    group: "host-a",
    backoff_base: 3,
    backoff_max: 60,
    expires_at: "2027-01-02T00:00:00.000Z",
    after_any: "cleanup-dep",
    unique_for: "1h",
    on_finish: "mail -s done me",
  }, NOW);
  assert.deepEqual(parsed, {
    id: "backup-1",
    command: "tar czf b.tgz .",
    queue: "nightly",
    priority: -3,
    max_retries: 5,
    timeout: 1.5,
    env: { A: "1", B: "" },
    cwd: "/srv",
    run_at: Date.UTC(2027, 0, 1),
    after: ["fetch", "build"],
    key: "nightly backup",
    retry_on: [75, "timeout"],
    group: "host-a",
    backoff_base: 3,
    backoff_max: 60,
    expires_at: Date.UTC(2027, 0, 2),
    after_any: ["cleanup-dep"],
    unique_for: 3600,
    on_finish: "mail -s done me",
    tags: null,
  });
});

Deno.test("parseJobInput() accepts max_retries 0 and timeout 0", () => {
  const parsed = job({ max_retries: 0, timeout: 0 });
  assert.equal(parsed.max_retries, 0);
  assert.equal(parsed.timeout, 0);
});

Deno.test("parseJobInput() accepts an id of 128 characters using every allowed character", () => {
  const id = "Az09._:-".repeat(16);
  assert.equal(id.length, 128);
  assert.equal(job({ id }).id, id);
});

Deno.test("parseJobInput() delays a job given delay as a duration string", () => {
  assert.equal(job({ delay: "90s" }).run_at, NOW + 90_000);
  assert.equal(job({ delay: "1h30m" }).run_at, NOW + 5_400_000);
});

Deno.test("parseJobInput() delays a job given delay as fractional seconds", () => {
  assert.equal(job({ delay: 1.5 }).run_at, NOW + 1500);
  assert.equal(job({ delay: 0 }).run_at, NOW);
});

Deno.test("parseJobInput() runs a job with run_at in the past now", () => {
  assert.equal(job({ run_at: "2020-01-01T00:00:00Z" }).run_at, NOW);
});

Deno.test("parseJobInput() schedules a job with run_at in the future at that time", () => {
  assert.equal(job({ run_at: "2026-11-28T13:00:00+01:00" }).run_at, Date.UTC(2026, 10, 28, 12));
});

Deno.test("parseJobInput() refuses both run_at and delay", async () => {
  await assertInvalid(
    () => jobAsync({ run_at: "2027-01-01T00:00:00Z", delay: "5m" }),
    /give "run_at" or "delay", not both/,
  );
});

Deno.test("parseJobInput() refuses an unparsable run_at, quoting it", async () => {
  await assertInvalid(
    () => jobAsync({ run_at: "next tuesday" }),
    /field "run_at" is not an ISO-8601 date-time: "next tuesday"/,
  );
  await assertInvalid(() => jobAsync({ run_at: "2026-02-30T10:00:00Z" }), /field "run_at"/);
  await assertInvalid(
    () => jobAsync({ run_at: 1795861800123 }),
    /field "run_at" must be an ISO-8601/,
  );
});

Deno.test("parseJobInput() refuses an unparsable delay, quoting it", async () => {
  await assertInvalid(() => jobAsync({ delay: "soon" }), /field "delay" is not a duration: "soon"/);
  await assertInvalid(() => jobAsync({ delay: -5 }), /field "delay" is not a duration: -5/);
  await assertInvalid(
    () => jobAsync({ delay: true }),
    /field "delay" must be seconds or a duration/,
  );
});

Deno.test("parseJobInput() refuses a delay past the last representable time", async () => {
  await assertInvalid(() => jobAsync({ delay: 1e300 }), /field "delay"/);
  await assertInvalid(() => jobAsync({ delay: "99999999999999d" }), /field "delay"/);
});

Deno.test("parseJobInput() refuses unknown fields and names them", async () => {
  await assertInvalid(
    () => jobAsync({ colour: "red" }),
    /unknown field "colour"/,
    /allowed: id, command/,
  );
  await assertInvalid(
    () => jobAsync({ colour: "red", size: 3 }),
    /unknown fields "colour", "size"/,
  );
});

Deno.test("parseJobInput() refuses a missing, empty, blank or non-string command", async () => {
  await assertInvalid(() => parseJobInput({}, NOW), /field "command" must be a non-empty string/);
  for (const command of ["", "   ", 5, null, ["echo", "hi"]]) {
    await assertInvalid(
      () => parseJobInput({ command }, NOW),
      /field "command" must be a non-empty string/,
    );
  }
});

Deno.test("parseJobInput() refuses a bad id: too long, empty, bad characters, not a string", async () => {
  for (const id of ["x".repeat(129), "", "a b", "a/b", "é", "a\nb", 42]) {
    await assertInvalid(() => jobAsync({ id }), /field "id" must be/);
  }
});

Deno.test("parseJobInput() refuses negative, fractional, too large or textual max_retries", async () => {
  for (const max_retries of [-1, 1.5, 101, "3", null]) {
    await assertInvalid(
      () => jobAsync({ max_retries }),
      /field "max_retries" must be an integer from 0 to 100/,
    );
  }
});

Deno.test("parseJobInput() refuses a non-integer priority but allows a negative one", async () => {
  await assertInvalid(() => jobAsync({ priority: 1.5 }), /field "priority" must be an integer/);
  await assertInvalid(() => jobAsync({ priority: "high" }), /field "priority" must be an integer/);
  assert.equal(job({ priority: -10 }).priority, -10);
});

Deno.test("parseJobInput() refuses a negative or non-numeric timeout", async () => {
  await assertInvalid(
    () => jobAsync({ timeout: -1 }),
    /field "timeout" must be a number of seconds >= 0/,
  );
  await assertInvalid(() => jobAsync({ timeout: "10s" }), /field "timeout"/);
});

Deno.test("parseJobInput() refuses env that is not an object of strings", async () => {
  await assertInvalid(
    () => jobAsync({ env: { A: 1 } }),
    /field "env" must be an object of strings/,
  );
  await assertInvalid(() => jobAsync({ env: ["A=1"] }), /field "env" must be an object of strings/);
  await assertInvalid(() => jobAsync({ env: "A=1" }), /field "env" must be an object of strings/);
});

Deno.test("parseJobInput() refuses a bad queue name or an empty cwd", async () => {
  await assertInvalid(() => jobAsync({ queue: "" }), /field "queue" must be 1-128 characters/);
  await assertInvalid(() => jobAsync({ queue: "my queue" }), /field "queue"/);
  await assertInvalid(() => jobAsync({ cwd: "" }), /field "cwd" must be a non-empty string/);
});

Deno.test("parseJobInput() takes after as one id or an array, stored as an array without repeats", () => {
  assert.deepEqual(job({ after: "a" }).after, ["a"]);
  assert.deepEqual(job({ after: ["b", "a", "b"] }).after, ["b", "a"]);
  assert.equal(job({ after: [] }).after, null, "an empty list waits for nothing");
});

Deno.test("parseJobInput() refuses after that is not an id or an array of ids", async () => {
  for (const after of [1, null, "", "a b", ["a", 1], [""], ["x".repeat(129)], { id: "a" }]) {
    await assertInvalid(
      () => jobAsync({ after }),
      /field "after" must be a job id or an array of job ids/,
    );
  }
});

Deno.test("parseJobInput() takes a key of 1 to 256 characters and refuses others", async () => {
  assert.equal(job({ key: "k" }).key, "k");
  assert.equal(job({ key: "x".repeat(256) }).key, "x".repeat(256));
  for (const key of ["", "x".repeat(257), 5, null]) {
    await assertInvalid(
      () => jobAsync({ key }),
      /field "key" must be a string of 1-256 characters/,
    );
  }
});

Deno.test("parseJobInput() takes retry_on of exit codes 1-255 and timeout, without repeats", () => {
  assert.deepEqual(job({ retry_on: [1, 255, "timeout"] }).retry_on, [1, 255, "timeout"]);
  assert.deepEqual(job({ retry_on: [75, 75] }).retry_on, [75]);
});

Deno.test("parseJobInput() refuses retry_on with 0, 256, a fraction, a word or no entry", async () => {
  for (const retry_on of [[0], [256], [1.5], ["nope"], ["75"], [-1], [], 75, "timeout", null]) {
    await assertInvalid(
      () => jobAsync({ retry_on }),
      /field "retry_on" must be a non-empty array of exit codes 1-255 and\/or "timeout"/,
    );
  }
});

Deno.test("parseOnConflict() takes keep, replace and fail; any other word is exit 2", async () => {
  assert.equal(parseOnConflict(undefined), undefined);
  for (const word of ["keep", "replace", "fail"] as const) {
    assert.equal(parseOnConflict(word), word);
  }
  for (const word of ["", "Keep", "skip"]) {
    await assertInvalid(
      () => parseOnConflict(word),
      /Invalid --on-conflict/,
      /use one of: keep, replace, fail/,
    );
  }
  await assertInvalid(() => parseOnConflict("x", "on_conflict"), /^Invalid on_conflict "x"/);
});

Deno.test("parseJobInput() prefixes messages with where the job came from", async () => {
  await assertInvalid(
    () => parseJobInput({ command: "" }, NOW, "line 7: "),
    /^line 7: Invalid job: /,
  );
});

Deno.test("parseJobInput() refuses values that are not objects", async () => {
  for (const value of [null, [], 42, "echo hi", true]) {
    await assertInvalid(() => parseJobInput(value, NOW), /a job must be a JSON object/);
  }
});

// --- parseJobJson ---

Deno.test("parseJobJson() parses one job object", async () => {
  const parsed = await parseJobJson('{"id":"fail1","command":"bash -c \\"exit 1\\""}', NOW);
  assert.equal(parsed.id, "fail1");
  assert.equal(parsed.command, 'bash -c "exit 1"');
});

Deno.test("parseJobJson() refuses text that is not JSON, with an example of what works", async () => {
  await assertInvalid(
    () => parseJobJson("{command: echo}", NOW),
    /not valid JSON/,
    /'\{"command":"echo hi"\}'/,
  );
  await assertInvalid(() => parseJobJson("", NOW), /not valid JSON/);
});

Deno.test("parseJobJson() refuses JSON that is not an object", async () => {
  for (const text of ["[]", '[{"command":"x"}]', "42", '"echo hi"', "null", "true"]) {
    await assertInvalid(() => parseJobJson(text, NOW), /a job must be a JSON object/);
  }
});

Deno.test("parseJobJson() names the line of a bad job with its prefix", async () => {
  await assertInvalid(
    () => parseJobJson("nope", NOW, "line 3: "),
    /^line 3: Invalid job: not valid JSON/,
  );
});

// --- generateId ---

Deno.test("generateId() makes valid, distinct ids", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => generateId(NOW)));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, ID_PATTERN);
});

Deno.test("generateId() sorts ids made later after earlier ones", () => {
  assert.ok(generateId(NOW + 1000) > generateId(NOW));
});
