import assert from "node:assert/strict";
import { checkJobFields } from "../../lib/job_input.ts";
import { explainJobInput, JobInputSchema } from "../../lib/job_input_schema.ts";

/** Values each field may be given: valid ones and the ways they go wrong. */
const VALUES: Record<string, unknown[]> = {
  id: ["job-1", "Az09._:-", "x".repeat(128), "x".repeat(129), "", "a b", "é", 1, null],
  command: ["true", " echo hi ", "", "   ", 1, null, ["ls"]],
  max_retries: [0, 3, 100, 101, -1, 1.5, "3", null, 2 ** 53],
  priority: [0, -3, 1_000_000_000, 1_000_000_001, 0.5, "1", null],
  run_at: ["2027-01-01T00:00:00Z", "soon", 5, null],
  delay: [0, 1.5, "90s", "nope", true, null, {}],
  timeout: [0, 1.5, -1, "5", null],
  queue: ["default", "mail.eu", "", "a b", 3, null],
  env: [{}, { A: "1" }, { A: 1 }, ["A"], "A=1", null, { A: null }],
  cwd: ["/srv", "", 1, null],
  after: ["a", ["a", "b"], [], "", "a b", ["a", 1], [""], 1, null, { a: 1 }],
  key: ["k", "x".repeat(256), "x".repeat(257), "", 1, null],
  retry_on: [[75], [1, 255, "timeout"], [0], [256], [1.5], ["nope"], ["75"], [], 75, null],
  unknown_field: [1],
};

function* corpus(): Generator<unknown> {
  yield null;
  yield [];
  yield "job";
  yield 42;
  yield {};
  for (const [field, values] of Object.entries(VALUES)) {
    for (const value of values) {
      yield { command: "true", [field]: value };
      if (field !== "command") yield { [field]: value };
    }
  }
  // Every valid value of every field at once, and a few mixes.
  yield {
    id: "a",
    command: "b",
    max_retries: 1,
    priority: 2,
    run_at: "2027-01-01T00:00:00Z",
    timeout: 3,
    queue: "q",
    env: { K: "v" },
    cwd: "/",
    after: ["x", "y"],
    key: "k",
    retry_on: [75, "timeout"],
  };
  yield { command: "b", delay: "5m", env: { K: "v", L: 2 } };
}

Deno.test("checkJobFields() accepts exactly what the zod schema accepts", () => {
  let accepted = 0;
  let refused = 0;
  for (const value of corpus()) {
    const fast = checkJobFields(value) !== null;
    const schema = JobInputSchema.safeParse(value).success;
    assert.equal(
      fast,
      schema,
      `disagree on ${JSON.stringify(value)}: plain ${fast}, zod ${schema}`,
    );
    if (fast) accepted++;
    else refused++;
  }
  // The corpus must exercise both sides, or the comparison proves nothing.
  assert.ok(accepted > 20 && refused > 40, `accepted ${accepted}, refused ${refused}`);
});

Deno.test("explainJobInput() names the field of the first problem", () => {
  assert.equal(explainJobInput({ command: "" }), 'field "command" must be a non-empty string');
  assert.match(String(explainJobInput({ command: "x", nope: 1 })), /unknown field "nope"/);
  assert.deepEqual(explainJobInput({ command: "x" }), { command: "x" });
});
