/**
 * Every bad input the README lists given to the commands other than
 * `enqueue` (see enqueue_bad_input_test.ts), each its own test: the exit
 * code, one `error: ` line on stderr without a stack trace, and a database
 * left exactly as it was.
 */
import { registerRefusals } from "./_cli.ts";

registerRefusals([
  // list
  {
    name: "list refuses an unknown --state, naming the states",
    args: ["list", "--state", "running"],
    code: 2,
    says: [/"running"/, /pending, blocked, held, processing, completed, failed, dead, cancelled/],
  },
  {
    name: "list refuses a --limit of 0",
    args: ["list", "--limit", "0"],
    code: 2,
    says: [/limit/],
  },
  {
    name: "list refuses a --limit that is not a number",
    args: ["list", "--limit", "ten"],
    code: 2,
    says: [/"ten"/],
  },
  // unknown ids
  {
    name: "show of an unknown id fails with exit 1",
    args: ["show", "ghost"],
    code: 1,
    says: [/"ghost" not found/],
  },
  {
    name: "logs of an unknown id fails with exit 1",
    args: ["logs", "ghost"],
    code: 1,
    says: [/"ghost" not found/],
  },
  {
    name: "retry of an unknown id fails with exit 1 and retries none of the others",
    args: ["retry", "f1", "ghost"],
    code: 1,
    says: [/"ghost" not found/],
  },
  {
    name: "cancel of an unknown id fails with exit 1 and cancels none of the others",
    args: ["cancel", "p2", "ghost"],
    code: 1,
    says: [/"ghost" not found/],
  },
  // conflicts
  {
    name: "retry of a pending job fails with exit 1 naming the state",
    args: ["retry", "p1"],
    code: 1,
    says: [/"p1"/, /job is pending/],
  },
  {
    name: "retry of a completed job fails with exit 1 naming the state",
    args: ["retry", "c1"],
    code: 1,
    says: [/"c1"/, /job is completed/],
  },
  {
    name: "retry of a running job fails with exit 1 naming the state",
    args: ["retry", "r1"],
    code: 1,
    says: [/job is processing/],
  },
  {
    name: "retry of a dead and a completed job retries neither",
    args: ["retry", "d1", "c1"],
    code: 1,
    says: [/"c1"/, /job is completed/, /only failed, dead and cancelled jobs/],
  },
  {
    name: "cancel of a completed job fails with exit 1 naming the state",
    args: ["cancel", "c1"],
    code: 1,
    says: [/"c1"/, /job is completed/],
  },
  {
    name: "cancel of a dead job fails with exit 1 naming the state",
    args: ["cancel", "d1"],
    code: 1,
    says: [/job is dead/],
  },
  {
    name: "cancel of a pending and a cancelled job cancels neither",
    args: ["cancel", "p2", "x1"],
    code: 1,
    says: [/"x1"/, /job is cancelled/],
  },
  // logs
  {
    name: "logs of a job that never ran fails with exit 1 and says so",
    args: ["logs", "p1"],
    code: 1,
    says: [/"p1" has not run yet/],
  },
  {
    name: "logs of an attempt that does not exist fails with exit 1",
    args: ["logs", "f1", "--attempt", "2"],
    code: 1,
    says: [/"f1" has no attempt 2/],
  },
  {
    name: "logs refuses an --attempt of 0",
    args: ["logs", "f1", "--attempt", "0"],
    code: 2,
    says: [/attempt/],
  },
  // dlq
  {
    name: "dlq retry refuses to run without ids or --all",
    args: ["dlq", "retry"],
    code: 2,
    says: [/--all/],
  },
  {
    name: "dlq retry refuses ids together with --all",
    args: ["dlq", "retry", "d1", "--all"],
    code: 2,
    says: [/--all/],
  },
  {
    name: "dlq retry of a job that is not dead fails with exit 1 naming the state",
    args: ["dlq", "retry", "d1", "f1"],
    code: 1,
    says: [/"f1"/, /job is failed/],
  },
  {
    name: "dlq retry of an unknown id fails with exit 1",
    args: ["dlq", "retry", "ghost"],
    code: 1,
    says: [/"ghost" not found/],
  },
  {
    name: "dlq purge refuses an unparsable --older-than",
    args: ["dlq", "purge", "--older-than", "a week"],
    code: 2,
    says: [/"a week"/],
  },
  // config
  {
    name: "config get refuses an unknown key with exit 2, listing the keys",
    args: ["config", "get", "retries"],
    code: 2,
    says: [/"retries"/, /max_retries, backoff_base/],
  },
  {
    name: "config get refuses a name inherited from Object",
    args: ["config", "get", "constructor"],
    code: 2,
    says: [/"constructor"/],
  },
  {
    name: "config set refuses an unknown key with exit 2",
    args: ["config", "set", "retries", "3"],
    code: 2,
    says: [/"retries"/],
  },
  {
    name: "config set refuses a value of the wrong type",
    args: ["config", "set", "max_retries", "many"],
    code: 2,
    says: [/"many"/, /max_retries must be an integer from 0 to 100/],
  },
  {
    name: "config set refuses a fraction for an integer setting",
    args: ["config", "set", "max-retries", "2.5"],
    code: 2,
    says: [/"2.5"/, /an integer/],
  },
  {
    name: "config set refuses a value above the range",
    args: ["config", "set", "max_retries", "101"],
    code: 2,
    says: [/max_retries must be an integer from 0 to 100/],
  },
  {
    name: "config set refuses a value below the range",
    args: ["config", "set", "lease_timeout", "1"],
    code: 2,
    says: [/lease_timeout must be a number >= 2/],
  },
  {
    name: "config set refuses a missing value",
    args: ["config", "set", "max_retries"],
    code: 2,
    says: [/value/],
  },
  // the command line itself
  {
    name: "an unknown command is exit 2",
    args: ["frobnicate"],
    code: 2,
    says: [/unknown command 'frobnicate'/],
  },
  {
    name: "an unknown option is exit 2",
    args: ["list", "--colour"],
    code: 2,
    says: [/unknown option '--colour'/],
  },
  {
    name: "a misspelt option is exit 2 and suggests the right one",
    args: ["list", "--limt", "3"],
    code: 2,
    says: [/unknown option '--limt'/, /did you mean --limit/],
  },
  {
    name: "--db without a path is exit 2",
    args: ["status", "--db"],
    code: 2,
    says: [/--db needs a path/],
  },
  {
    name: "an unknown subcommand of dlq is exit 2",
    args: ["dlq", "empty"],
    code: 2,
    says: [/empty/],
  },
  {
    name: "show without an id is exit 2",
    args: ["show"],
    code: 2,
    says: [/id/],
  },
  // worker service
  {
    name: "worker service refuses --count 0",
    args: ["worker", "service", "--count", "0"],
    code: 2,
    says: [/Invalid worker count "0"/],
  },
  {
    name: "worker service refuses a bad queue name",
    args: ["worker", "service", "--queue", "a b"],
    code: 2,
    says: [/Invalid queue name "a b"/],
  },
  {
    name: "worker service refuses a name that is no unit name",
    args: ["worker", "service", "--name", "my/worker"],
    code: 2,
    says: [/Invalid service name "my\/worker"/],
  },
]);
