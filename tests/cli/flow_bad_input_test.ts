/**
 * Every bad input of job flow (README "Job flow"), each its own test: the exit code,
 * one `error: ` line on stderr, and a database left exactly as it was.
 * Refusals the store decides (dependencies, keys) run on every store.
 */
import { registerRefusals } from "./_cli.ts";

const job = (fields: Record<string, unknown>) => JSON.stringify({ command: "echo hi", ...fields });

registerRefusals([
  // after: its shape (exit 2)
  ...[1, null, "", "a b", ["p1", 2], [""], { id: "p1" }].map((after) => ({
    name: `enqueue refuses after ${JSON.stringify(after)}: not an id or an array of ids`,
    args: ["enqueue", job({ after })],
    code: 2 as const,
    says: [/field "after" must be a job id or an array of job ids/],
  })),
  {
    name: "enqueue --after refuses an id with a space",
    args: ["enqueue", "--after", "a b", "--", "true"],
    code: 2,
    says: [/field "after"/],
  },
  // after: what the store finds (exit 1)
  {
    name: "enqueue refuses after naming an unknown job",
    args: ["enqueue", job({ id: "n1", after: ["p1", "nope"] })],
    code: 1,
    says: [/dependency "nope" not found/],
    everyStore: true,
  },
  {
    name: "enqueue refuses after naming the job itself",
    args: ["enqueue", "--id", "self", "--after", "self", "--", "true"],
    code: 1,
    says: [/"self"/, /itself/],
    everyStore: true,
  },
  {
    name: "enqueue refuses after naming a dead job",
    args: ["enqueue", job({ after: "d1" })],
    code: 1,
    says: [/dependency "d1" is dead/],
    everyStore: true,
  },
  {
    name: "enqueue refuses after naming a cancelled job",
    args: ["enqueue", "--after", "p1", "--after", "x1", "--", "true"],
    code: 1,
    says: [/dependency "x1" is cancelled/],
    everyStore: true,
  },
  {
    name: "enqueue --file refuses after naming a later line, adding none of the batch",
    args: ["enqueue", "--file"],
    file: [job({ id: "b1" }), job({ id: "b2", after: "b3" }), job({ id: "b3" })].join("\n"),
    code: 1,
    says: [/dependency "b3" not found/],
    everyStore: true,
  },
  {
    name: "enqueue --file refuses after naming a dead job on line 2, adding none of the batch",
    args: ["enqueue", "--file"],
    file: [job({ id: "b1" }), job({ id: "b2", after: ["b1", "d1"] })].join("\n"),
    code: 1,
    says: [/dependency "d1" is dead/],
    everyStore: true,
  },
  // key (exit 2)
  {
    name: "enqueue refuses an empty key",
    args: ["enqueue", job({ key: "" })],
    code: 2,
    says: [/field "key" must be a string of 1-256 characters/],
  },
  {
    name: "enqueue refuses a key of 257 characters",
    args: ["enqueue", job({ key: "k".repeat(257) })],
    code: 2,
    says: [/field "key" must be a string of 1-256 characters/],
  },
  {
    name: "enqueue --key refuses an empty key",
    args: ["enqueue", "--key", "", "--", "true"],
    code: 2,
    says: [/field "key"/],
  },
  {
    name: "enqueue refuses a key that is not a string",
    args: ["enqueue", job({ key: 7 })],
    code: 2,
    says: [/field "key"/],
  },
  // --on-conflict (exit 2), in every form
  {
    name: "enqueue -- <cmd> refuses --on-conflict with another word",
    args: ["enqueue", "--on-conflict", "skip", "--key", "k", "--", "true"],
    code: 2,
    says: [/Invalid --on-conflict "skip"/, /keep, replace, fail/],
  },
  {
    name: "enqueue '<json>' refuses --on-conflict with another word",
    args: ["enqueue", "--on-conflict", "overwrite", job({ key: "k" })],
    code: 2,
    says: [/Invalid --on-conflict "overwrite"/],
  },
  {
    name: "enqueue --file refuses --on-conflict with another word",
    args: ["enqueue", "--on-conflict", "KEEP", "--file"],
    file: job({ key: "k" }),
    code: 2,
    says: [/Invalid --on-conflict "KEEP"/],
  },
  // key conflicts the store decides (exit 1)
  {
    name: "enqueue --on-conflict fail refuses a key held by an active job",
    args: ["enqueue", "--on-conflict", "fail", job({ id: "n1", key: "nightly" })],
    seed: [{ id: "k1", state: "pending", key: "nightly" }],
    code: 1,
    says: [/key "nightly" is held by job "k1"/],
    everyStore: true,
  },
  {
    name: "enqueue --on-conflict replace refuses a key held by a running job",
    args: ["enqueue", "--on-conflict", "replace", "--key", "nightly", "--", "true"],
    seed: [{ id: "k1", state: "processing", key: "nightly", priority: 10 }],
    code: 1,
    says: [/key "nightly" is held by job "k1" \(processing\)/, /running/],
    everyStore: true,
  },
  {
    name: "enqueue --file --on-conflict fail refuses a batch whose own lines share a key",
    args: ["enqueue", "--on-conflict", "fail", "--file"],
    file: [job({ id: "b1", key: "k" }), job({ id: "b2", key: "k" })].join("\n"),
    code: 1,
    says: [/key "k" is held by job "b1"/],
    everyStore: true,
  },
  // retry_on (exit 2)
  ...[[0], [256], [1.5], ["nope"], ["75"], [], 75, "timeout"].map((retry_on) => ({
    name: `enqueue refuses retry_on ${JSON.stringify(retry_on)}`,
    args: ["enqueue", job({ retry_on })],
    code: 2 as const,
    says: [/field "retry_on" must be a non-empty array of exit codes 1-255 and\/or "timeout"/],
  })),
  ...["0", "256", "1.5", "75,never", ""].map((flag) => ({
    name: `enqueue --retry-on ${JSON.stringify(flag)} is refused`,
    args: ["enqueue", "--retry-on", flag, "--", "true"],
    code: 2 as const,
    says: [/field "retry_on"/],
  })),
  // wait
  {
    name: "wait on an unknown id is exit 1 naming it",
    args: ["wait", "c1", "nope"],
    code: 1,
    says: [/Job "nope" not found/],
    everyStore: true,
  },
  {
    name: "wait --timeout with a bad duration is exit 2",
    args: ["wait", "p1", "--timeout", "soon"],
    code: 2,
    says: [/Invalid --timeout "soon"/],
  },
  {
    name: "wait --timeout with a negative duration is exit 2",
    args: ["wait", "p1", "--timeout=-5"],
    code: 2,
    says: [/Invalid --timeout "-5"/],
  },
  {
    name: "wait without an id is a usage error",
    args: ["wait"],
    code: 2,
    says: [/./],
  },
  {
    name: "enqueue --wait-timeout without --wait is exit 2",
    args: ["enqueue", "--wait-timeout", "5s", "--", "true"],
    code: 2,
    says: [/--wait-timeout needs --wait/],
  },
  {
    name: "enqueue --wait --wait-timeout with a bad duration is exit 2, nothing added",
    args: ["enqueue", "--wait", "--wait-timeout", "later", "--", "true"],
    code: 2,
    says: [/Invalid --wait-timeout "later"/],
  },
]);
