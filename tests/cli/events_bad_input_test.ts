/**
 * Every bad input of events, progress, hooks and webhooks (README "Events"),
 * each its own test: the exit code, one `error: ` line on stderr, and a
 * database left exactly as it was.
 */
import { registerRefusals } from "./_cli.ts";

const inJob = (id: string, attempt: number) => ({
  QUEUECTL_JOB_ID: id,
  QUEUECTL_ATTEMPT: String(attempt),
});

registerRefusals([
  ...["-1", "abc", "1.5", ""].map((since) => ({
    name: `events refuses --since ${JSON.stringify(since)}`,
    args: ["events", "--since", since],
    code: 2 as const,
    says: [/Invalid --since/, /whole number/],
  })),
  {
    name: "events refuses a --type that is not an event type, listing the types",
    args: ["events", "--type", "finished"],
    code: 2,
    says: [/Unknown event type "finished"/, /completed/],
  },
  {
    name: "config set refuses a webhook_url that is not http(s)",
    args: ["config", "set", "webhook_url", "ftp://example.com/hook"],
    code: 2,
    says: [/webhook_url/, /http/],
  },
  {
    name: "config set refuses a webhook_url that is not a URL",
    args: ["config", "set", "webhook_url", "example.com"],
    code: 2,
    says: [/webhook_url/],
  },
  {
    name: "config set refuses webhook_events naming an unknown type",
    args: ["config", "set", "webhook_events", "completed,finished"],
    code: 2,
    says: [/webhook_events/],
  },
  {
    name: "enqueue refuses on_finish that is not a string",
    args: ["enqueue", JSON.stringify({ command: "true", on_finish: 5 })],
    code: 2,
    says: [/field "on_finish" must be a string/],
  },
  ...["101", "abc", "-1", "5.5"].map((value) => ({
    name: `progress refuses ${value}`,
    args: ["progress", value],
    code: 2 as const,
    says: [/Invalid progress/, /0 to 100/],
    env: inJob("r1", 1),
  })),
  {
    name: "progress refuses a message over 1,000 characters",
    args: ["progress", "50", "--message", "x".repeat(1001)],
    code: 2,
    says: [/1001 characters/, /1000/],
    env: inJob("r1", 1),
  },
  {
    name: "progress outside a job is exit 2",
    args: ["progress", "50"],
    code: 2,
    says: [/Not inside a job/],
  },
  {
    name: "progress from an attempt that is no longer live is exit 1",
    args: ["progress", "50"],
    code: 1,
    says: [/job "r1" attempt 7/, /no longer running/],
    env: inJob("r1", 7),
    everyStore: true,
  },
  {
    name: "progress of a job that is not running is exit 1",
    args: ["progress", "50"],
    code: 1,
    says: [/job "p1"/, /no longer running/],
    env: inJob("p1", 1),
    everyStore: true,
  },
]);
