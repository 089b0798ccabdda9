/** `queuectl schedule add|list|show|rm|pause|resume|run`: the commands, and bad input refused. */
import assert from "node:assert/strict";
import type { ScheduleView } from "../../lib/schedule.ts";
import { cliJson, runCli, storeTest, withTempDb } from "../_helpers.ts";
import { assertOk, assertOneLineError, withStore } from "./_cli.ts";

/** Every schedule and every job: what a refused command must leave alone. */
async function scheduleSnapshot(db: string): Promise<unknown> {
  return await withStore(db, async (store) => ({
    schedules: await store.scheduleList(),
    jobs: (await store.jobList({ limit: 1000 })).jobs,
  }));
}

const REFUSALS: { name: string; args: string[]; code: 1 | 2; says: RegExp[] }[] = [
  {
    name: "a bad cron field is exit 2 naming the field",
    args: ["schedule", "add", "x", "--cron", "0 25 * * *", "--", "true"],
    code: 2,
    says: [/Invalid cron expression "0 25 \* \* \*"/, /field 2 \(hour\) "25"/],
  },
  {
    name: "a bad seconds field is exit 2 naming it",
    args: ["schedule", "add", "x", "--cron", "*/0 * * * * *", "--", "true"],
    code: 2,
    says: [/field 1 \(second\)/],
  },
  {
    name: "a cron of 7 fields is exit 2",
    args: ["schedule", "add", "x", "--cron", "* * * * * * *", "--", "true"],
    code: 2,
    says: [/7 fields, not 5 or 6/],
  },
  {
    name: "an unknown nickname is exit 2",
    args: ["schedule", "add", "x", "--cron", "@fortnightly", "--", "true"],
    code: 2,
    says: [/unknown nickname "@fortnightly"/],
  },
  {
    name: "an unknown time zone is exit 2",
    args: ["schedule", "add", "x", "--cron", "@daily", "--tz", "Mars/Olympus", "--", "true"],
    code: 2,
    says: [/Unknown time zone "Mars\/Olympus"/],
  },
  {
    name: "a name in use is exit 1",
    args: ["schedule", "add", "taken", "--cron", "@daily", "--", "true"],
    code: 1,
    says: [/Cannot add schedule "taken": the name is in use/],
  },
  {
    name: "a malformed name is exit 2",
    args: ["schedule", "add", "bad name", "--cron", "@daily", "--", "true"],
    code: 2,
    says: [/Invalid schedule name "bad name"/],
  },
  {
    name: "a name with @ is exit 2 (it separates the name from the due time in job ids)",
    args: ["schedule", "add", "a@b", "--cron", "@daily", "--", "true"],
    code: 2,
    says: [/Invalid schedule name "a@b"/],
  },
  {
    name: "--catch-up with another word is exit 2",
    args: ["schedule", "add", "x", "--cron", "@daily", "--catch-up", "some", "--", "true"],
    code: 2,
    says: [/Invalid --catch-up "some"/, /none, one, all/],
  },
  {
    name: "a missing --cron is exit 2",
    args: ["schedule", "add", "x", "--", "true"],
    code: 2,
    says: [/needs --cron/],
  },
  {
    name: "a missing command is exit 2",
    args: ["schedule", "add", "x", "--cron", "@daily"],
    code: 2,
    says: [/has no job/],
  },
  {
    name: "a job template with an id is exit 2",
    args: ["schedule", "add", "x", "--cron", "@daily", '{"command":"true","id":"j"}'],
    code: 2,
    says: [/"id" is set by the schedule/],
  },
  {
    name: "a job template with a key is exit 2 (the schedule sets it)",
    args: ["schedule", "add", "x", "--cron", "@daily", '{"command":"true","key":"k"}'],
    code: 2,
    says: [/"key" is set by the schedule/],
  },
  {
    name: "a bad job option is exit 2",
    args: ["schedule", "add", "x", "--cron", "@daily", "--priority", "high", "--", "true"],
    code: 2,
    says: [/priority/],
  },
  {
    name: "rm of an unknown name is exit 1",
    args: ["schedule", "rm", "nope"],
    code: 1,
    says: [/Schedule "nope" not found/],
  },
  {
    name: "pause of an unknown name is exit 1",
    args: ["schedule", "pause", "nope"],
    code: 1,
    says: [/Schedule "nope" not found/],
  },
  {
    name: "resume of an unknown name is exit 1",
    args: ["schedule", "resume", "nope"],
    code: 1,
    says: [/Schedule "nope" not found/],
  },
  {
    name: "show of an unknown name is exit 1",
    args: ["schedule", "show", "nope"],
    code: 1,
    says: [/Schedule "nope" not found/],
  },
  {
    name: "run of an unknown name is exit 1",
    args: ["schedule", "run", "nope"],
    code: 1,
    says: [/Schedule "nope" not found/],
  },
];

for (const refusal of REFUSALS) {
  Deno.test(`schedule: ${refusal.name}, one line, nothing changed`, async () => {
    await using tmp = await withTempDb();
    assertOk(
      await runCli(["schedule", "add", "taken", "--cron", "@hourly", "--", "true"], {
        db: tmp.db,
      }),
    );
    const before = await scheduleSnapshot(tmp.db);
    const result = await runCli(refusal.args, { db: tmp.db });
    assertOneLineError(result, refusal.code, ...refusal.says);
    assert.deepEqual(await scheduleSnapshot(tmp.db), before, "the database is unchanged");
  });
}

storeTest(
  "schedule add stores the job template, zone and modes; list and show print them",
  async (tmp) => {
    const added = JSON.parse(assertOk(
      await runCli([
        "schedule",
        "add",
        "nightly",
        "--cron",
        "30 2 * * *",
        "--tz",
        "America/New_York",
        "--catch-up",
        "all",
        "--priority",
        "5",
        "--max-retries",
        "2",
        "--timeout",
        "60",
        "--queue",
        "ops",
        "--json",
        "--",
        "backup.sh",
        "My Documents",
      ], { db: tmp.db }),
    )) as ScheduleView;
    assert.equal(added.name, "nightly");
    assert.equal(added.cron, "30 2 * * *");
    assert.equal(added.tz, "America/New_York");
    assert.equal(added.catch_up, "all");
    assert.equal(added.overlap, false);
    assert.equal(added.paused, false);
    assert.deepEqual(added.job, {
      command: "backup.sh 'My Documents'",
      queue: "ops",
      priority: 5,
      max_retries: 2,
      timeout: 60,
      env: null,
      cwd: null,
    });
    // 02:30 in New York: 06:30 or 07:30 UTC, in the future, shown in its zone
    assert.match(added.next_run_at!, /T0[67]:30:00\.000Z$/);
    assert.ok(Date.parse(added.next_run_at!) > Date.now());
    assert.match(added.next_run_local!, / 02:30:00 -0[45]:00$/);

    const json = await cliJson<ScheduleView>([
      "schedule",
      "add",
      "report",
      "--cron",
      "@hourly",
      "--tz",
      "UTC",
      "--overlap",
      '{"command":"report.sh","queue":"reports","env":{"A":"1"}}',
    ], { db: tmp.db });
    assert.equal(json.overlap, true);
    assert.deepEqual(json.job.env, { A: "1" });
    assert.equal(json.job.queue, "reports");
    assert.match(json.next_run_local!, /:00:00 \+00:00$/);

    const list = await cliJson<ScheduleView[]>(["schedule", "list"], { db: tmp.db });
    assert.deepEqual(list.map((s) => s.name), ["nightly", "report"]);
    const table = assertOk(await runCli(["schedule", "list"], { db: tmp.db }));
    assert.match(table, /^NAME +CRON +ZONE +NEXT RUN +LAST RUN +SKIPPED +COMMAND/);
    assert.match(table, /nightly +30 2 \* \* \* +America\/New_York +\S+ 02:30:00 -0[45]:00 +- +0 /);
    const show = assertOk(await runCli(["schedule", "show", "nightly"], { db: tmp.db }));
    assert.match(show, /^skipped: +0/m);
    assert.match(show, /^catch-up: +all/m);
    assert.match(show, /^next run: +\S+ 02:30:00 -0[45]:00/m);
  },
);

storeTest("schedule pause, resume, run and rm", async (tmp) => {
  const db = { db: tmp.db };
  assertOk(
    await runCli(["schedule", "add", "t", "--cron", "@daily", "--tz", "UTC", "--", "true"], db),
  );
  assert.match(assertOk(await runCli(["schedule", "pause", "t"], db)), /paused schedule t/);
  let shown = await cliJson<ScheduleView>(["schedule", "show", "t"], db);
  assert.equal(shown.paused, true);
  assert.match(assertOk(await runCli(["schedule", "list"], db)), /^t +@daily +UTC +paused/m);
  assert.match(
    assertOk(await runCli(["schedule", "resume", "t"], db)),
    /resumed schedule t; next run .* 00:00:00 \+00:00/,
  );
  shown = await cliJson<ScheduleView>(["schedule", "show", "t"], db);
  assert.equal(shown.paused, false);
  assert.ok(Date.parse(shown.next_run_at!) > Date.now());
  const nextBefore = shown.next_run_at;

  // run now: one job <name>@<now ISO>; again while it is active: exit 1
  const before = Date.now();
  const id = assertOk(await runCli(["schedule", "run", "t"], db)).trim();
  const match = id.match(/^t@(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$/);
  assert.ok(match, id);
  assert.ok(Math.abs(Date.parse(match[1]!) - before) < 10_000);
  const job = await cliJson<{ id: string; state: string; command: string }>(["show", id], db);
  assert.equal(job.state, "pending");
  assert.equal(job.command, "true");
  assertOneLineError(
    await runCli(["schedule", "run", "t"], db),
    1,
    /Cannot run schedule "t" now: a job with its key "schedule:t" is still active/,
    new RegExp(`its last job is "${id.replace(/[.]/g, "\\.")}"`),
  );
  shown = await cliJson<ScheduleView>(["schedule", "show", "t"], db);
  assert.equal(shown.next_run_at, nextBefore, "run now leaves the next due time alone");
  assert.equal(shown.last_job_id, id);
  assert.equal((shown as unknown as { last_job: { state: string } }).last_job.state, "pending");

  assert.match(assertOk(await runCli(["schedule", "rm", "t"], db)), /removed schedule t/);
  assert.deepEqual(await cliJson(["schedule", "list"], db), []);
  assert.equal((await cliJson<{ id: string }>(["show", id], db)).id, id, "its jobs stay");
});
