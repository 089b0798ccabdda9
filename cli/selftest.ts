/**
 * `queuectl selftest`: the core scenarios end to end on a temporary
 * database with real workers, each printed with pass or fail.
 */
import { errorMessage, QueuectlError } from "../lib/errors.ts";
import type { Job } from "../lib/job.ts";
import { parseJobInput } from "../lib/job_input.ts";
import { openStorage } from "../lib/storage/open_storage.ts";
import type { Storage } from "../lib/storage/storage.ts";
import { Supervisor } from "../workers/supervisor.ts";
import type { CliContext } from "./_context.ts";
import { paint } from "./_format.ts";

interface Scenario {
  name: string;
  run: (env: { db: string; dir: string }) => Promise<void>;
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | null | undefined>) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function enqueue(store: Storage, ...inputs: Record<string, unknown>[]): Promise<void> {
  const now = Date.now();
  const jobs = await Promise.all(inputs.map((i) => parseJobInput(i, now)));
  await store.jobInsertMany({ jobs, now });
}

/** Runs `body` with a supervisor of `count` workers on `db`, stopping it afterwards. */
async function withWorkers(
  db: string,
  count: number,
  body: (store: Storage) => Promise<void>,
): Promise<void> {
  await using store = await openStorage(db);
  const supervisor = await Supervisor.start({ store, count, queues: null });
  try {
    await body(store);
  } finally {
    await supervisor.stop("force");
  }
}

async function jobIn(store: Storage, id: string, states: Job["state"][]): Promise<Job | null> {
  const job = await store.jobGet({ id });
  return job && states.includes(job.state) ? job : null;
}

const SCENARIOS: Scenario[] = [
  {
    name: "a job completes and its output is kept",
    run: ({ db }) =>
      withWorkers(db, 1, async (store) => {
        await enqueue(store, { id: "ok1", command: "echo Hello QueueCTL" });
        await until("ok1 to complete", 10_000, () => jobIn(store, "ok1", ["completed"]));
        const output = await store.runOutputGet({ id: "ok1" });
        check(output?.stdout === "Hello QueueCTL\n", `unexpected output ${JSON.stringify(output)}`);
      }),
  },
  {
    name: "a failing job retries with backoff, then moves to the DLQ",
    run: ({ db }) =>
      withWorkers(db, 1, async (store) => {
        await store.configSet({ key: "backoff_base", value: 1.5 });
        await store.configSet({ key: "backoff_jitter", value: 0 });
        await enqueue(store, { id: "fail1", command: 'bash -c "exit 1"', max_retries: 2 });
        await until("fail1 to be dead", 15_000, () => jobIn(store, "fail1", ["dead"]));
        const job = await store.jobGetWithRuns({ id: "fail1" });
        check(job?.runs.length === 3, `expected 3 attempts, saw ${job?.runs.length}`);
        const starts = job.runs.map((r) => Date.parse(r.started_at));
        const gap1 = starts[1]! - starts[0]!;
        const gap2 = starts[2]! - starts[1]!;
        check(gap1 >= 1400 && gap2 >= 2150, `backoff gaps ${gap1} ms, ${gap2} ms too short`);
      }),
  },
  {
    name: "several workers share the queue without overlap",
    run: ({ db, dir }) =>
      withWorkers(db, 4, async (store) => {
        const file = `${dir}/ran.txt`;
        const jobs = Array.from({ length: 40 }, (_, i) => ({
          id: `many-${i}`,
          command: `echo "$QUEUECTL_JOB_ID" >> '${file}'`,
        }));
        await enqueue(store, ...jobs);
        await until("40 jobs to complete", 20_000, async () =>
          (await store.jobList({ search: "many-", state: "completed", limit: 50 })).jobs
            .length === 40);
        const lines = (await Deno.readTextFile(file)).trim().split("\n");
        check(lines.length === 40, `expected 40 runs, saw ${lines.length}`);
        check(new Set(lines).size === 40, "a job ran twice");
      }),
  },
  {
    name: "an unknown command fails cleanly",
    run: ({ db }) =>
      withWorkers(db, 1, async (store) => {
        await enqueue(store, { id: "nf", command: "queuectl-no-such-command", max_retries: 0 });
        const job = await until("nf to be dead", 10_000, () => jobIn(store, "nf", ["dead"]));
        check(job.last_error?.includes("127") === true, `unexpected error ${job.last_error}`);
      }),
  },
  {
    name: "data survives a restart",
    run: async ({ db }) => {
      {
        await using store = await openStorage(db);
        await enqueue(store, { id: "later", command: "true", delay: "1s" });
      }
      await withWorkers(db, 1, async (store) => {
        await until("later to complete", 10_000, () => jobIn(store, "later", ["completed"]));
        check((await store.jobGet({ id: "ok1" }))?.state === "completed", "ok1 was lost");
      });
    },
  },
];

/** Runs every scenario and prints pass/fail; fails (exit 1) if any failed. */
export async function selftest(ctx: CliContext): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-selftest-" });
  const db = `${dir}/queue.db`;
  let failed = 0;
  try {
    for (const scenario of SCENARIOS) {
      const started = performance.now();
      try {
        await scenario.run({ db, dir });
        const ms = Math.round(performance.now() - started);
        ctx.out(`${paint(ctx.color, 32, "PASS")}  ${scenario.name} (${ms} ms)`);
      } catch (error) {
        failed++;
        const message = errorMessage(error);
        ctx.out(`${paint(ctx.color, 31, "FAIL")}  ${scenario.name}: ${message}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  ctx.out(`${SCENARIOS.length - failed} passed, ${failed} failed`);
  if (failed > 0) {
    throw new QueuectlError(`Selftest failed: ${failed} of ${SCENARIOS.length} scenarios`, 1, 500);
  }
}
