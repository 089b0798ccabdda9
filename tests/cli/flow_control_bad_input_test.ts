/**
 * Every bad input of flow control (README "Flow control"), each its own
 * test: the exit code, one `error: ` line on stderr, and a database left
 * exactly as it was. Refusals the store decides run on every store.
 */
import { registerRefusals } from "./_cli.ts";

const job = (fields: Record<string, unknown>) => JSON.stringify({ command: "echo hi", ...fields });

registerRefusals([
  ...["0/1s", "10", "ten/1s", "10/0s", "10/", "/1s", "-1/1s", "10/1y"].map((rate) => ({
    name: `queue set --rate ${rate} is refused`,
    args: ["queue", "set", "api", "--rate", rate],
    code: 2 as const,
    says: [/Invalid rate "/],
  })),
  ...["-1", "x", "1.5"].map((n) => ({
    name: `queue set --group-concurrency ${n} is refused`,
    args: ["queue", "set", "api", "--group-concurrency", n],
    code: 2 as const,
    says: [/Invalid group concurrency "/],
  })),
  ...["x".repeat(129), "", 7, ["a"]].map((group) => ({
    name: `enqueue refuses group ${JSON.stringify(group).slice(0, 20)}`,
    args: ["enqueue", job({ group })],
    code: 2 as const,
    says: [/field "group" must be a string of 1-128 characters/],
  })),
  {
    name: "enqueue --group refuses a name over 128 characters",
    args: ["enqueue", "--group", "g".repeat(129), "--", "true"],
    code: 2,
    says: [/field "group"/],
  },
  ...["-0.1", "1.5"].map((value) => ({
    name: `config set backoff_jitter ${value} is refused`,
    args: ["config", "set", "backoff_jitter", value],
    code: 2 as const,
    says: [/backoff_jitter must be a number from 0 to 1/],
  })),
  ...[0.5, 0, "2"].map((base) => ({
    name: `enqueue refuses backoff_base ${JSON.stringify(base)}`,
    args: ["enqueue", job({ backoff_base: base })],
    code: 2 as const,
    says: [/field "backoff_base" must be a number >= 1/],
  })),
  {
    name: "enqueue --backoff-base 0.5 is refused",
    args: ["enqueue", "--backoff-base", "0.5", "--", "true"],
    code: 2,
    says: [/field "backoff_base"/],
  },
  {
    name: "enqueue refuses a negative backoff_max",
    args: ["enqueue", job({ backoff_max: -1 })],
    code: 2,
    says: [/field "backoff_max"/],
  },
  ...["tomorrow", "2026-02-30T00:00:00Z", 5].map((at) => ({
    name: `enqueue refuses expires_at ${JSON.stringify(at)}`,
    args: ["enqueue", job({ expires_at: at })],
    code: 2 as const,
    says: [/field "expires_at"/],
  })),
  {
    name: "enqueue --expires-in with a later run_at is refused",
    args: ["enqueue", "--expires-in", "1m", "--run-at", "2099-01-01T00:00:00Z", "--", "true"],
    code: 2,
    says: [/expires .* before it is due/],
  },
  {
    name: "enqueue --expires-in with a longer delay is refused",
    args: ["enqueue", "--expires-in", "10s", "--delay", "1m", "--", "true"],
    code: 2,
    says: [/expires .* before it is due/],
  },
  {
    name: "enqueue --expires-in refuses a bad duration",
    args: ["enqueue", "--expires-in", "soon", "--", "true"],
    code: 2,
    says: [/Invalid --expires-in "soon"/],
  },
  {
    name: "enqueue refuses unique_for without a key",
    args: ["enqueue", job({ unique_for: "1h" })],
    code: 2,
    says: [/field "unique_for" needs a "key"/],
  },
  {
    name: "enqueue --unique-for without --key is refused",
    args: ["enqueue", "--unique-for", "1h", "--", "true"],
    code: 2,
    says: [/"unique_for" needs a "key"/],
  },
  {
    name: "enqueue refuses after_any of a bad shape",
    args: ["enqueue", job({ after_any: [1] })],
    code: 2,
    says: [/field "after_any" must be a job id or an array of job ids/],
  },
  {
    name: "enqueue refuses after_any naming an unknown job",
    args: ["enqueue", "--after-any", "nope", "--", "true"],
    code: 1,
    says: [/dependency "nope" not found/],
    everyStore: true,
  },
]);
