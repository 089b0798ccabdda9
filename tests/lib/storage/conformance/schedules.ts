/**
 * Storage conformance cases for schedules. Every store runs them through
 * `storageConformance()` (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import { ConflictError, NotFoundError } from "../../../../lib/errors.ts";
import { isoTime, type NewJob } from "../../../../lib/job.ts";
import type { NewSchedule } from "../../../../lib/schedule.ts";
import type { ScheduleFire, ScheduleFireResult, Storage } from "../../../../lib/storage/storage.ts";
import { finishOf, newJob, T0 } from "../_fixtures.ts";
import { assertRejects } from "./_assert.ts";
import { claimOne } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";

/** Fires one schedule: {@linkcode Storage.scheduleFireMany} of one. */
async function fireOne(
  store: Storage,
  params: ScheduleFire & { now: number },
): Promise<ScheduleFireResult> {
  const { now, ...fire } = params;
  return (await store.scheduleFireMany({ fires: [fire], now }))[0]!;
}

/** A valid schedule to insert: every 2 s, next due at T0 unless overridden. */
function newSchedule(name: string, overrides: Partial<NewSchedule> = {}): NewSchedule {
  return {
    name,
    cron: "*/2 * * * * *",
    tz: "UTC",
    catch_up: "one",
    overlap: false,
    job: {
      command: `echo ${name}`,
      queue: "default",
      priority: 0,
      max_retries: null,
      timeout: null,
      env: null,
      cwd: null,
    },
    paused: false,
    next_run_at: T0,
    ...overrides,
  };
}

/** The job a schedule enqueues for one due time: with its key `schedule:<name>` unless `overlap`. */
function scheduledJob(name: string, dueAt: number, overlap = false): NewJob {
  return newJob(`${name}@${isoTime(dueAt)}`, {
    command: `echo ${name}`,
    run_at: dueAt,
    key: overlap ? null : `schedule:${name}`,
  });
}

/** Registers the cases for schedules. */
export function schedulesConformance(test: ConformanceTest): void {
  // --- schedules ---

  test("scheduleInsert() stores every field; scheduleGet() and scheduleList() read them", async (store) => {
    const job = {
      command: "backup.sh 'My Documents'",
      queue: "nightly",
      priority: 5,
      max_retries: 2,
      timeout: 30.5,
      env: { A: "1" },
      cwd: "/tmp",
    };
    const stored = await store.scheduleInsert({
      schedule: newSchedule("b-nightly", {
        cron: "0 3 * * *",
        tz: "Europe/Berlin",
        catch_up: "all",
        overlap: true,
        job,
        next_run_at: T0 + 60_000,
      }),
      now: T0,
    });
    const expected = {
      name: "b-nightly",
      cron: "0 3 * * *",
      tz: "Europe/Berlin",
      catch_up: "all",
      overlap: true,
      job,
      paused: false,
      next_run_at: T0 + 60_000,
      last_run_at: null,
      last_job_id: null,
      skipped: 0,
      missed: 0,
      created_at: T0,
    };
    assert.deepEqual(stored, expected);
    assert.deepEqual(await store.scheduleGet({ name: "b-nightly" }), expected);
    assert.equal(await store.scheduleGet({ name: "nope" }), null);
    await store.scheduleInsert({ schedule: newSchedule("a-first"), now: T0 });
    assert.deepEqual((await store.scheduleList()).map((s) => s.name), ["a-first", "b-nightly"]);
  });

  test("scheduleInsert() of a name in use is a ConflictError and changes nothing", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick"), now: T0 });
    await assertRejects(
      () => store.scheduleInsert({ schedule: newSchedule("tick", { cron: "@daily" }), now: T0 }),
      (error) => error instanceof ConflictError && /"tick".*in use/.test(error.message),
    );
    assert.equal((await store.scheduleGet({ name: "tick" }))!.cron, "*/2 * * * * *");
  });

  test("scheduleDelete() removes a schedule; an unknown name is a NotFoundError", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick"), now: T0 });
    await store.scheduleDelete({ name: "tick" });
    assert.equal(await store.scheduleGet({ name: "tick" }), null);
    await assertRejects(
      () => store.scheduleDelete({ name: "tick" }),
      (error) => error instanceof NotFoundError && /Schedule "tick" not found/.test(error.message),
    );
  });

  test("scheduleSetPaused() pauses and resumes; paused schedules are never due", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("a", { next_run_at: T0 }), now: T0 });
    await store.scheduleInsert({ schedule: newSchedule("b", { next_run_at: T0 + 4000 }), now: T0 });
    assert.equal(await store.scheduleNextDueAt(), T0);
    const paused = await store.scheduleSetPaused({ name: "a", paused: true });
    assert.equal(paused.paused, true);
    assert.equal(paused.next_run_at, T0, "pausing keeps the next time");
    assert.equal(await store.scheduleNextDueAt(), T0 + 4000);
    assert.deepEqual(
      (await store.scheduleListDue({ now: T0 + 10_000, limit: 10 })).map((s) => s.name),
      ["b"],
    );
    const fired = await fireOne(store, {
      name: "a",
      expectedNextRunAt: T0,
      nextRunAt: T0 + 2000,
      jobs: [scheduledJob("a", T0)],
      missed: 0,
      now: T0,
    });
    assert.deepEqual(
      fired,
      { fired: false, inserted: [], skipped: [] },
      "a paused one never fires",
    );
    const resumed = await store.scheduleSetPaused({
      name: "a",
      paused: false,
      nextRunAt: T0 + 6000,
    });
    assert.equal(resumed.paused, false);
    assert.equal(resumed.next_run_at, T0 + 6000);
    assert.deepEqual(
      (await store.scheduleListDue({ now: T0 + 10_000, limit: 10 })).map((s) => s.name),
      ["b", "a"],
      "due ones come earliest first",
    );
    assert.deepEqual(
      (await store.scheduleListDue({ now: T0 + 10_000, limit: 1 })).map((s) => s.name),
      ["b"],
    );
    assert.deepEqual(await store.scheduleListDue({ now: T0 + 3999, limit: 10 }), []);
    await assertRejects(
      () => store.scheduleSetPaused({ name: "nope", paused: true }),
      NotFoundError,
    );
    assert.equal(await store.jobGet({ id: `a@${isoTime(T0)}` }), null);
  });

  test("scheduleNextDueAt() is null without schedules", async (store) => {
    assert.equal(await store.scheduleNextDueAt(), null);
  });

  test(
    "scheduleFireMany() of one schedule advances the next time and inserts the job in one step, once per due time",
    async (store, db) => {
      await store.scheduleInsert({ schedule: newSchedule("tick"), now: T0 });
      await using other = await db.open();
      // Every connection read the same due time and fires it at once: one wins.
      const stores = [store, other, store, other];
      const results = await Promise.all(stores.map((s) =>
        fireOne(s, {
          name: "tick",
          expectedNextRunAt: T0,
          nextRunAt: T0 + 2000,
          jobs: [scheduledJob("tick", T0)],
          missed: 0,
          now: T0 + 10,
        })
      ));
      assert.equal(results.filter((r) => r.fired).length, 1, "exactly one call fired");
      assert.deepEqual(results.find((r) => r.fired)!.inserted, [`tick@${isoTime(T0)}`]);
      for (const r of results.filter((r) => !r.fired)) assert.deepEqual(r.inserted, []);
      const schedule = (await store.scheduleGet({ name: "tick" }))!;
      assert.equal(schedule.next_run_at, T0 + 2000);
      assert.equal(schedule.last_run_at, T0);
      assert.equal(schedule.last_job_id, `tick@${isoTime(T0)}`);
      const job = (await store.jobGet({ id: `tick@${isoTime(T0)}` }))!;
      assert.equal(job.state, "pending");
      assert.equal(job.next_run_at, isoTime(T0));
      assert.equal(job.command, "echo tick");
      assert.equal((await store.jobCountByState()).pending, 1);
      // A stale expectation (a firer that read the old time late) does nothing.
      const stale = await fireOne(store, {
        name: "tick",
        expectedNextRunAt: T0,
        nextRunAt: T0 + 2000,
        jobs: [scheduledJob("tick", T0)],
        missed: 0,
        now: T0 + 20,
      });
      assert.equal(stale.fired, false);
      assert.equal((await store.jobCountByState()).pending, 1);
    },
  );

  test("scheduleFireMany() of one schedule skips a job whose key the previous job holds while active, and counts it", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick"), now: T0 });
    const fire = (due: number, now = due) =>
      fireOne(store, {
        name: "tick",
        expectedNextRunAt: due,
        nextRunAt: due + 2000,
        jobs: [scheduledJob("tick", due)],
        missed: 0,
        now,
      });
    assert.equal((await fire(T0)).inserted.length, 1);
    const first = `tick@${isoTime(T0)}`;
    // pending, then processing: both skip the next due times
    assert.deepEqual(await fire(T0 + 2000), {
      fired: true,
      inserted: [],
      skipped: [`tick@${isoTime(T0 + 2000)}`],
    });
    const claimed = await claimOne(store, "w1", first, T0 + 2500);
    assert.equal((await fire(T0 + 4000)).skipped.length, 1);
    let schedule = (await store.scheduleGet({ name: "tick" }))!;
    assert.equal(schedule.skipped, 2);
    assert.equal(schedule.next_run_at, T0 + 6000, "a skipped time still moves the schedule on");
    assert.equal(schedule.last_job_id, first);
    assert.equal(schedule.last_run_at, T0);
    await store.runFinishMany({ finishes: [finishOf(claimed, "w1")] });
    assert.deepEqual((await fire(T0 + 6000)).inserted, [`tick@${isoTime(T0 + 6000)}`]);
    schedule = (await store.scheduleGet({ name: "tick" }))!;
    assert.equal(schedule.skipped, 2);
    assert.equal(schedule.last_run_at, T0 + 6000);
    assert.equal((await store.jobCountByState()).pending, 1);
  });

  test(
    "scheduleFireMany() fires many schedules in one call, each due time once, in any order from many connections",
    async (store, db) => {
      const names = ["a", "b", "c", "d", "e"];
      for (const name of names) {
        await store.scheduleInsert({ schedule: newSchedule(name), now: T0 });
      }
      await store.scheduleSetPaused({ name: "e", paused: true });
      await using other = await db.open();
      const fires = (order: string[]) =>
        order.map((name) => ({
          name,
          expectedNextRunAt: T0,
          nextRunAt: T0 + 2000,
          jobs: [scheduledJob(name, T0)],
          missed: 0,
        }));
      // Two connections, opposite orders, at once: no deadlock, and each due time fires once.
      const [forward, backward] = await Promise.all([
        store.scheduleFireMany({ fires: fires(names), now: T0 }),
        other.scheduleFireMany({ fires: fires([...names].reverse()), now: T0 }),
      ]);
      assert.equal(forward.length, 5);
      assert.equal(backward.length, 5);
      for (const [i, name] of names.entries()) {
        const mine = forward[i]!;
        const theirs = backward[names.length - 1 - i]!;
        if (name === "e") {
          assert.ok(!mine.fired && !theirs.fired, "a paused schedule never fires");
          continue;
        }
        assert.equal(Number(mine.fired) + Number(theirs.fired), 1, `${name} fired once`);
        assert.deepEqual((mine.fired ? mine : theirs).inserted, [`${name}@${isoTime(T0)}`]);
      }
      assert.equal((await store.jobCountByState()).pending, 4);
      assert.deepEqual(await store.scheduleFireMany({ fires: [], now: T0 }), []);
    },
  );

  test("scheduleFireMany() of one schedule skips while any active job holds the key, one enqueued by hand too", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick"), now: T0 });
    await store.jobInsertMany({ jobs: [newJob("manual", { key: "schedule:tick" })], now: T0 });
    const result = await fireOne(store, {
      name: "tick",
      expectedNextRunAt: T0,
      nextRunAt: T0 + 2000,
      jobs: [scheduledJob("tick", T0)],
      missed: 0,
      now: T0,
    });
    assert.deepEqual(result, { fired: true, inserted: [], skipped: [`tick@${isoTime(T0)}`] });
    await store.jobCancel({ ids: ["manual"], now: T0 + 1 });
    const next = await fireOne(store, {
      name: "tick",
      expectedNextRunAt: T0 + 2000,
      nextRunAt: T0 + 4000,
      jobs: [scheduledJob("tick", T0 + 2000)],
      missed: 0,
      now: T0 + 2000,
    });
    assert.deepEqual(next.inserted, [`tick@${isoTime(T0 + 2000)}`], "the key is free once final");
    assert.equal((await store.jobGet({ id: next.inserted[0]! }))!.key, "schedule:tick");
  });

  test("scheduleFireMany() of one schedule of jobs without a key (overlap) enqueues while the previous job is active", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick", { overlap: true }), now: T0 });
    for (const due of [T0, T0 + 2000]) {
      const result = await fireOne(store, {
        name: "tick",
        expectedNextRunAt: due,
        nextRunAt: due + 2000,
        jobs: [scheduledJob("tick", due, true)],
        missed: 0,
        now: due,
      });
      assert.equal(result.inserted.length, 1);
    }
    assert.equal((await store.jobCountByState()).pending, 2);
    assert.equal((await store.scheduleGet({ name: "tick" }))!.skipped, 0);
  });

  test("scheduleFireMany() of one schedule of catch-up jobs inserts each and adds the missed count", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick", { overlap: true }), now: T0 });
    const result = await fireOne(store, {
      name: "tick",
      expectedNextRunAt: T0,
      nextRunAt: T0 + 10_000,
      jobs: [scheduledJob("tick", T0 + 4000, true), scheduledJob("tick", T0 + 8000, true)],
      missed: 3,
      now: T0 + 9000,
    });
    assert.equal(result.inserted.length, 2);
    const schedule = (await store.scheduleGet({ name: "tick" }))!;
    assert.equal(schedule.missed, 3);
    assert.equal(schedule.last_run_at, T0 + 8000);
    assert.equal(schedule.last_job_id, `tick@${isoTime(T0 + 8000)}`);
  });

  test("scheduleFireMany() of one schedule for a run now leaves the next time alone and counts no skip", async (store) => {
    await store.scheduleInsert({ schedule: newSchedule("tick", { paused: true }), now: T0 });
    const now = T0 + 123;
    const run = await fireOne(store, {
      name: "tick",
      expectedNextRunAt: null,
      nextRunAt: null,
      jobs: [scheduledJob("tick", now)],
      missed: 0,
      now,
    });
    assert.deepEqual(run, { fired: true, inserted: [`tick@${isoTime(now)}`], skipped: [] });
    const again = await fireOne(store, {
      name: "tick",
      expectedNextRunAt: null,
      nextRunAt: null,
      jobs: [scheduledJob("tick", now + 1)],
      missed: 0,
      now: now + 1,
    });
    assert.deepEqual(again.skipped, [`tick@${isoTime(now + 1)}`], "the first is still active");
    const schedule = (await store.scheduleGet({ name: "tick" }))!;
    assert.equal(schedule.next_run_at, T0);
    assert.equal(schedule.skipped, 0);
    assert.equal(schedule.last_job_id, `tick@${isoTime(now)}`);
    await assertRejects(
      () =>
        fireOne(store, {
          name: "nope",
          expectedNextRunAt: null,
          nextRunAt: null,
          jobs: [scheduledJob("nope", now)],
          missed: 0,
          now,
        }),
      NotFoundError,
    );
  });
}
