/**
 * Schedules fired by real worker processes (README.md, "Recurring jobs"): one job per
 * due time however many processes fire, paused schedules fire nothing,
 * catch-up after the workers were stopped, and the overlap rule.
 */
import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import type { Schedule } from "../../lib/schedule.ts";
import type { Storage } from "../../lib/storage/storage.ts";
import { openStorage } from "../../lib/storage/open_storage.ts";
import type { SupervisorEvent } from "../../workers/events.ts";
import { Scheduler } from "../../workers/scheduler.ts";
import { runCli, storeTest, waitFor } from "../_helpers.ts";
import { withStore } from "../cli/_cli.ts";
import { startWorker, type WorkerProcess } from "./_worker_process.ts";

const EVERY_2S = "*/2 * * * * *";

/** Adds a schedule with the CLI; `args` go before `-- <cmd...>`. */
async function addSchedule(db: string, name: string, args: string[], cmd: string[]) {
  const result = await runCli(
    ["schedule", "add", name, "--cron", EVERY_2S, ...args, "--", ...cmd],
    {
      db,
    },
  );
  assert.equal(result.code, 0, result.stderr);
}

/** The jobs of schedule `name`, oldest due time first, with their due times. */
async function scheduleJobs(db: string, name: string): Promise<(Job & { due: number })[]> {
  const jobs = await withStore(db, async (store) => (await store.jobList({ limit: 10_000 })).jobs);
  return jobs
    .filter((job) => job.id.startsWith(`${name}@`))
    .map((job) => ({ ...job, due: Date.parse(job.id.slice(name.length + 1)) }))
    .sort((a, b) => a.due - b.due);
}

async function getSchedule(db: string, name: string): Promise<Schedule> {
  return (await withStore(db, (store) => store.scheduleGet({ name })))!;
}

/** Waits until schedule `name` has a job due after `after` (epoch ms). */
async function waitForJobAfter(db: string, name: string, after: number, workers: WorkerProcess[]) {
  await waitFor(async () => (await scheduleJobs(db, name)).some((j) => j.due > after), {
    timeoutMs: 30_000,
    intervalMs: 200,
    message: `a job of ${name} due after ${new Date(after).toISOString()}\n${
      workers.map((w) => w.log()).join("\n")
    }`,
  });
}

/** Asserts due times are whole even seconds, each 2 s after the one before. */
function assertConsecutive(dues: number[]): void {
  for (const due of dues) {
    assert.equal(due % 2000, 0, `${new Date(due).toISOString()} is a due time`);
  }
  for (let i = 1; i < dues.length; i++) {
    assert.equal(
      dues[i]! - dues[i - 1]!,
      2000,
      `due times follow each other: ${dues.map((d) => new Date(d).toISOString()).join(", ")}`,
    );
  }
}

storeTest("two worker processes over 10 s enqueue one job per due time, never two", async (tmp) => {
  // --overlap and catch-up all: nothing but the guard decides which times get a job.
  await addSchedule(tmp.db, "tick", ["--overlap", "--catch-up", "all"], ["true"]);
  await using a = await startWorker(tmp.db, ["--count", "2"]);
  await using b = await startWorker(tmp.db, ["--count", "2"]);
  const startedAt = Date.now();
  await waitForJobAfter(tmp.db, "tick", startedAt + 10_000, [a, b]);
  await a.stop();
  await b.stop();
  const jobs = await scheduleJobs(tmp.db, "tick");
  const dues = jobs.map((j) => j.due);
  assert.ok(jobs.length >= 5, `${jobs.length} jobs in over 10 s`);
  assert.equal(new Set(jobs.map((j) => j.id)).size, jobs.length);
  assertConsecutive(dues);
  // Each due time was enqueued by exactly one process: the other's fire found it taken.
  const logs = a.stdout() + b.stdout();
  for (const job of jobs) {
    const times = logs.split(`enqueued ${job.id}`).length - 1;
    assert.equal(times, 1, `${job.id} was enqueued ${times} times\n${a.log()}\n${b.log()}`);
  }
  assert.ok(a.stdout().includes("enqueued tick@") || b.stdout().includes("enqueued tick@"));
  const schedule = await getSchedule(tmp.db, "tick");
  assert.equal(schedule.skipped, 0, "no fire ran into a job already there");
  assert.equal(schedule.last_run_at, dues.at(-1));
  assert.ok(jobs.every((j) => j.state === "completed"), "the workers ran them");
});

storeTest("a paused schedule enqueues nothing while another one fires", async (tmp) => {
  await addSchedule(tmp.db, "paused", ["--overlap"], ["true"]);
  assert.equal((await runCli(["schedule", "pause", "paused"], { db: tmp.db })).code, 0);
  await addSchedule(tmp.db, "active", ["--overlap"], ["true"]);
  await using worker = await startWorker(tmp.db);
  const startedAt = Date.now();
  // Three due times of the active one: the paused one had as many.
  await waitForJobAfter(tmp.db, "active", startedAt + 5000, [worker]);
  assert.ok((await scheduleJobs(tmp.db, "active")).length >= 3);
  assert.deepEqual(await scheduleJobs(tmp.db, "paused"), []);
  // Resumed, it fires again, from its next due time after now.
  assert.equal((await runCli(["schedule", "resume", "paused"], { db: tmp.db })).code, 0);
  const resumedAt = Date.now();
  await waitForJobAfter(tmp.db, "paused", resumedAt - 2000, [worker]);
  const jobs = await scheduleJobs(tmp.db, "paused");
  assert.ok(jobs[0]!.due > resumedAt - 1000, "no catch-up of the time it was paused");
});

/** Runs a worker until a job, stops it for 7 s, runs one again; returns the jobs and the gap. */
async function stopForSevenSeconds(db: string, name: string) {
  let worker = await startWorker(db);
  try {
    await waitForJobAfter(db, name, 0, [worker]);
  } finally {
    await worker.stop();
  }
  const before = await scheduleJobs(db, name);
  const lastBefore = before.at(-1)!.due;
  const stoppedAt = Date.now();
  // The scenario itself: seven seconds in which no worker runs.
  await new Promise((resolve) => setTimeout(resolve, 7000));
  const restartAt = Date.now();
  worker = await startWorker(db);
  try {
    await waitForJobAfter(db, name, restartAt + 2000, [worker]);
  } finally {
    await worker.stop();
  }
  return { jobs: await scheduleJobs(db, name), lastBefore, stoppedAt, restartAt };
}

storeTest(
  "after the workers were stopped for 7 s, --catch-up one adds one job for the missed times",
  async (tmp) => {
    await addSchedule(tmp.db, "one", ["--overlap", "--catch-up", "one"], ["true"]);
    const stopped = await stopForSevenSeconds(tmp.db, "one");
    const { jobs, lastBefore } = stopped;
    const dues = jobs.map((j) => j.due);
    const after = dues.filter((d) => d > lastBefore);
    // A 7 s stop covers at least three due times; the first job after it stands
    // for all of them: it is the latest (on time, or missed) and none before it got one.
    const first = after[0]!;
    const { restartAt } = stopped;
    assert.ok(first - lastBefore >= 6000, `a gap of ${first - lastBefore} ms after the stop`);
    assert.ok(
      first >= restartAt - 2000,
      "that one job is for the latest due time, not an early one",
    );
    assert.ok(
      dues.filter((d) => d > lastBefore && d <= restartAt).length <= 1,
      "at most one job for the times in the stop",
    );
    // A loaded machine may also fire a later time more than a period late:
    // catch-up one then leaves out the times it passed, and counts them too.
    for (const due of after) assert.equal(due % 2000, 0, `${new Date(due).toISOString()} is due`);
    let leftOut = (first - lastBefore) / 2000 - 1;
    for (let i = 1; i < after.length; i++) leftOut += (after[i]! - after[i - 1]!) / 2000 - 1;
    const schedule = await getSchedule(tmp.db, "one");
    assert.equal(
      schedule.missed,
      leftOut,
      `each left-out time is counted: ${after.map((d) => new Date(d).toISOString()).join(", ")}`,
    );
  },
);

storeTest(
  "after the workers were stopped for 7 s, --catch-up all adds each missed one",
  async (tmp) => {
    await addSchedule(tmp.db, "all", ["--overlap", "--catch-up", "all"], ["true"]);
    const { jobs, lastBefore, restartAt } = await stopForSevenSeconds(tmp.db, "all");
    const dues = jobs.map((j) => j.due);
    assertConsecutive(dues);
    const missed = dues.filter((d) => d > lastBefore && d <= restartAt);
    assert.ok(missed.length >= 3, `${missed.length} missed times enqueued`);
    assert.equal((await getSchedule(tmp.db, "all")).missed, 0);
  },
);

storeTest(
  "without --overlap a due time is skipped while the previous job runs; never two at once",
  async (tmp) => {
    await addSchedule(tmp.db, "long", [], ["sleep", "3"]);
    await using worker = await startWorker(tmp.db, ["--count", "3"]);
    await waitFor(async () => (await getSchedule(tmp.db, "long")).skipped >= 2, {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: `two skipped due times\n${worker.log()}`,
    });
    await waitFor(async () => (await scheduleJobs(tmp.db, "long")).length >= 2, {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: `a second job after the first finished\n${worker.log()}`,
    });
    await worker.stop();
    const runs = await withStore(tmp.db, async (store) => {
      const all = [];
      for (const job of await scheduleJobs(tmp.db, "long")) {
        const full = await store.jobGetWithRuns({ id: job.id });
        for (const run of full!.runs) {
          all.push({
            id: job.id,
            start: Date.parse(run.started_at),
            end: run.finished_at === null ? Infinity : Date.parse(run.finished_at),
          });
        }
      }
      return all.sort((x, y) => x.start - y.start);
    });
    assert.ok(runs.length >= 2);
    for (let i = 1; i < runs.length; i++) {
      assert.ok(
        runs[i]!.start >= runs[i - 1]!.end,
        `${runs[i]!.id} started before ${runs[i - 1]!.id} ended`,
      );
    }
    assert.match(worker.stdout(), /schedule long +skipped 1 \(previous job still active\)/);
    for (const job of await scheduleJobs(tmp.db, "long")) assert.equal(job.key, "schedule:long");
  },
);

storeTest(
  "a sleeping firer wakes for a schedule added after it started, not by polling",
  async (tmp) => {
    await using store = await openStorage(tmp.db);
    const events: SupervisorEvent[] = [];
    // Nothing to fire: without the change hint it would sleep ten minutes.
    const scheduler = new Scheduler({ store, onEvent: (e) => events.push(e), maxSleepMs: 600_000 });
    scheduler.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await addSchedule(tmp.db, "late", [], ["true"]);
      await waitFor(async () => (await scheduleJobs(tmp.db, "late")).length > 0, {
        timeoutMs: 10_000,
        intervalMs: 100,
        message: `a job of the schedule added later; events: ${JSON.stringify(events)}`,
      });
      assert.ok(events.some((e) => e.type === "schedule:fire" && e.name === "late"));
      assert.ok(!events.some((e) => e.type === "supervisor:error"), JSON.stringify(events));
    } finally {
      await scheduler.stop();
    }
  },
);

storeTest("runOnce() fires each due schedule once and leaves the others", async (tmp) => {
  await using store = await openStorage(tmp.db);
  await addSchedule(tmp.db, "due", ["--overlap"], ["true"]);
  await addSchedule(tmp.db, "later", ["--overlap"], ["true"]);
  const due = (await store.scheduleGet({ name: "due" }))!;
  // Both firers read the same due time; the second finds it taken.
  const a = new Scheduler({ store });
  const b = new Scheduler({ store });
  const at = due.next_run_at!;
  await store.scheduleSetPaused({ name: "later", paused: false, nextRunAt: at + 60_000 });
  assert.equal(await a.runOnce(at + 10), 1);
  assert.equal(await b.runOnce(at + 10), 0);
  assert.deepEqual((await scheduleJobs(tmp.db, "due")).map((j) => j.due), [at]);
  assert.deepEqual(await scheduleJobs(tmp.db, "later"), []);
  assert.equal((await store.scheduleGet({ name: "due" }))!.next_run_at, at + 2000);
});

Deno.test("change hints re-read the next due time at most every 200 ms, also hints during a pass", async () => {
  let reads = 0;
  let hold: Promise<void> | null = null;
  const store = {
    now: () => Date.now(),
    scheduleListDue: async () => {
      reads++;
      if (hold) await hold;
      return [];
    },
    scheduleNextDueAt: () => Promise.resolve(null),
  } as unknown as Storage;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const scheduler = new Scheduler({ store, watch: false, maxSleepMs: 600_000 });
  scheduler.start();
  try {
    assert.equal(reads, 1, "a pass at start");
    // A burst of hints right after it: one read, once the gap has passed.
    for (let i = 0; i < 50; i++) scheduler.hint();
    await waitFor(() => reads === 2, { message: "the hinted read" });
    const second = performance.now();
    await sleep(300);
    assert.equal(reads, 2, "the burst made one read");

    // Hints while a pass runs: one more read after it, still after the gap.
    let release!: () => void;
    hold = new Promise((resolve) => (release = resolve));
    await sleep(Math.max(0, second + 250 - performance.now()));
    scheduler.hint();
    assert.equal(reads, 3, "a hint after the gap reads at once");
    const third = performance.now();
    for (let i = 0; i < 20; i++) scheduler.hint();
    hold = null;
    release();
    await waitFor(() => reads === 4, { message: "one read for the hints during the pass" });
    assert.ok(performance.now() - third >= 190, "not before the gap");
    await sleep(300);
    assert.equal(reads, 4);
  } finally {
    await scheduler.stop();
  }
});
