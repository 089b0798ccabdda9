/**
 * Every bad input of the operator controls (README "Operating a queue"),
 * each its own test: the exit code, one `error: ` line on stderr, and a
 * database left exactly as it was. Refusals the store decides run on every store.
 */
import { registerRefusals } from "./_cli.ts";

const job = (fields: Record<string, unknown>) => JSON.stringify({ command: "echo hi", ...fields });
const tags = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);

registerRefusals([
  // tags (exit 2)
  {
    name: "enqueue refuses a tag over 64 characters",
    args: ["enqueue", job({ tags: ["x".repeat(65)] })],
    code: 2,
    says: [/field "tags" must be an array of at most 20 strings of 1-64 characters/],
  },
  {
    name: "enqueue refuses 21 tags",
    args: ["enqueue", job({ tags: tags(21) })],
    code: 2,
    says: [/field "tags" must be an array of at most 20 strings/],
  },
  ...[[1], [null], "a", [""], { a: 1 }].map((value) => ({
    name: `enqueue refuses tags ${JSON.stringify(value)}: not an array of strings`,
    args: ["enqueue", job({ tags: value })],
    code: 2 as const,
    says: [/field "tags" must be an array of at most 20 strings of 1-64 characters/],
  })),
  {
    name: "enqueue --tag refuses a tag over 64 characters",
    args: ["enqueue", "--tag", "y".repeat(65), "--", "true"],
    code: 2,
    says: [/field "tags"/],
  },
  {
    name: "enqueue --file refuses 21 tags on a line, naming it",
    args: ["enqueue", "--file"],
    file: [job({ id: "b1" }), job({ id: "b2", tags: tags(21) })].join("\n"),
    code: 2,
    says: [/^error: line 2: /, /field "tags"/],
  },
  {
    name: "list --tag refuses a tag over 64 characters",
    args: ["list", "--tag", "z".repeat(65)],
    code: 2,
    says: [/Invalid tag "z{20}…": 65 characters/, /at most 20 tags of 1-64 characters/],
  },
  // ids or a filter (exit 2)
  ...["cancel", "retry", "delete", "hold", "release"].map((action) => ({
    name: `${action} with neither ids nor a filter nor --all is refused, saying to add one`,
    args: [action],
    code: 2 as const,
    says: [new RegExp(`Nothing to ${action}: no job ids and no filter`), /add a filter/, /--all/],
  })),
  {
    name: "cancel with ids and a filter together is refused",
    args: ["cancel", "p1", "--state", "pending"],
    code: 2,
    says: [/Give job ids or a filter to cancel, not both/],
  },
  {
    name: "cancel with ids and --all together is refused",
    args: ["cancel", "p1", "--all"],
    code: 2,
    says: [/not both/],
  },
  {
    name: "cancel --older-than soon is refused",
    args: ["cancel", "--older-than", "soon"],
    code: 2,
    says: [/Invalid duration "soon" for --older-than/],
  },
  {
    name: "cancel --state of a state cancel does not apply to is refused",
    args: ["cancel", "--state", "completed"],
    code: 2,
    says: [/Cannot cancel completed jobs/, /cancel applies to pending/],
  },
  {
    name: "delete --state pending is refused: delete removes final jobs only",
    args: ["delete", "--state", "pending"],
    code: 2,
    says: [/Cannot delete pending jobs/, /completed, dead, cancelled/],
  },
  {
    name: "cancel --state nonsense is refused",
    args: ["cancel", "--state", "nonsense"],
    code: 2,
    says: [/Unknown state "nonsense"/],
  },
  {
    name: "cancel --queue with a bad name is refused",
    args: ["cancel", "--queue", "a b"],
    code: 2,
    says: [/Invalid queue name "a b"/],
  },
  {
    name: "cancel --dry-run with ids is refused",
    args: ["cancel", "p1", "--dry-run"],
    code: 2,
    says: [/--dry-run needs a filter/],
  },
  // edit (exit 2 for values, exit 1 for the state)
  {
    name: "edit --priority x is refused",
    args: ["edit", "p1", "--priority", "x"],
    code: 2,
    says: [/Invalid --priority "x"; use an integer/],
  },
  {
    name: "edit --max-retries 101 is refused",
    args: ["edit", "p1", "--max-retries", "101"],
    code: 2,
    says: [/Invalid --max-retries "101"/],
  },
  {
    name: "edit --run-at tomorrow is refused",
    args: ["edit", "p1", "--run-at", "tomorrow"],
    code: 2,
    says: [/Invalid time "tomorrow" for --run-at: not an ISO-8601 date-time/],
  },
  {
    name: "edit --env without = is refused",
    args: ["edit", "p1", "--env", "NOPE"],
    code: 2,
    says: [/Invalid --env "NOPE"; use NAME=VALUE/],
  },
  {
    name: "edit --tag over 64 characters is refused",
    args: ["edit", "p1", "--tag", "x".repeat(65)],
    code: 2,
    says: [/Invalid tag/],
  },
  {
    name: "edit with nothing to change is refused",
    args: ["edit", "p1"],
    code: 2,
    says: [/Nothing to edit/],
  },
  {
    name: "edit of a running job is refused, naming its state",
    args: ["edit", "r1", "--priority", "5"],
    code: 1,
    says: [/Cannot edit job "r1": job is processing/],
    everyStore: true,
  },
  ...[["c1", "completed"], ["d1", "dead"], ["x1", "cancelled"]].map(([id, state]) => ({
    name: `edit of a ${state} job is refused, naming its state`,
    args: ["edit", id!, "--priority", "5"],
    code: 1 as const,
    says: [new RegExp(`Cannot edit job "${id}": job is ${state}`)],
    everyStore: true,
  })),
  {
    name: "edit of an unknown job is refused",
    args: ["edit", "nope", "--priority", "5"],
    code: 1,
    says: [/Job "nope" not found/],
  },
  // release, hold, delete by id (exit 1)
  {
    name: "release of a job that is not held is refused, naming its state",
    args: ["release", "p1"],
    code: 1,
    says: [/Cannot release job "p1": job is pending; only held jobs can be released/],
    everyStore: true,
  },
  {
    name: "hold of a running job is refused, all or none",
    args: ["hold", "p1", "r1"],
    code: 1,
    says: [/Cannot hold job "r1": job is processing/],
    everyStore: true,
  },
  {
    name: "delete of a job that is not final is refused, all or none",
    args: ["delete", "c1", "p1"],
    code: 1,
    says: [/Cannot delete job "p1": job is pending/, /cancel it first/],
    everyStore: true,
  },
]);
