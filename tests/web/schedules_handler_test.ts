/** The dashboard's schedules: the page, the API, pause/resume/run now, and the guard on writes. */
import assert from "node:assert/strict";
import type { ScheduleView } from "../../lib/schedule.ts";
import { cliJson, runCli, storeTest } from "../_helpers.ts";
import { appFixture, BASE } from "./_fixtures.ts";

async function addSchedule(db: string, name: string, args: string[] = []) {
  const result = await runCli(
    [
      "schedule",
      "add",
      name,
      "--cron",
      "0 9 * * *",
      "--tz",
      "Europe/Berlin",
      ...args,
      "--",
      "echo",
      name,
    ],
    { db },
  );
  assert.equal(result.code, 0, result.stderr);
}

storeTest(
  "GET /api/schedules and /api/schedules/:name are the CLI's --json documents",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addSchedule(tmp.db, "morning");
    const list = await (await f.request("/api/schedules")).json() as ScheduleView[];
    assert.deepEqual(list, await cliJson(["schedule", "list"], { db: tmp.db }));
    assert.equal(list[0]!.tz, "Europe/Berlin");
    assert.match(list[0]!.next_run_local!, / 09:00:00 \+0[12]:00$/);
    const one = await f.request("/api/schedules/morning");
    assert.deepEqual(
      await one.json(),
      await cliJson(["schedule", "show", "morning"], { db: tmp.db }),
    );
    const missing = await f.request("/api/schedules/nope");
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error, /Schedule "nope" not found/);
  },
);

storeTest(
  "POST pause, resume and run change the schedule; run now adds a job and wakes workers",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addSchedule(tmp.db, "morning");
    const post = (path: string) =>
      f.request(path, { method: "POST", headers: { Origin: BASE, Accept: "application/json" } });
    const paused = await post("/api/schedules/morning/pause");
    assert.equal(paused.status, 200);
    assert.equal((await paused.json() as ScheduleView).paused, true);
    assert.equal((await f.store.scheduleGet({ name: "morning" }))!.paused, true);
    const resumed = await post("/api/schedules/morning/resume");
    const view = await resumed.json() as ScheduleView;
    assert.equal(view.paused, false);
    assert.ok(Date.parse(view.next_run_at!) > Date.now());

    const wakes = f.wakes;
    const run = await post("/api/schedules/morning/run");
    assert.equal(run.status, 200);
    const job = await run.json() as { id: string; state: string };
    assert.match(job.id, /^morning@\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert.equal((await f.store.jobGet({ id: job.id }))!.state, "pending");
    assert.equal(f.wakes, wakes + 1, "the in-process workers were woken");
    // Again while that job is pending: 409, nothing added.
    const again = await post("/api/schedules/morning/run");
    assert.equal(again.status, 409);
    assert.match((await again.json()).error, /still active/);
    assert.equal((await f.store.jobCountByState()).pending, 1);
    const unknown = await post("/api/schedules/nope/pause");
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
  },
);

storeTest("schedule writes need the token and refuse a foreign Origin", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addSchedule(tmp.db, "morning");
  for (const action of ["pause", "resume", "run"]) {
    const path = `/api/schedules/morning/${action}`;
    const noToken = await f.request(path, { method: "POST", auth: false });
    assert.equal(noToken.status, 401, path);
    await noToken.body?.cancel();
    const foreign = await f.request(path, {
      method: "POST",
      headers: { Origin: "http://evil.example" },
    });
    assert.equal(foreign.status, 403, path);
    await foreign.body?.cancel();
  }
  const schedule = (await f.store.scheduleGet({ name: "morning" }))!;
  assert.equal(schedule.paused, false);
  assert.equal(schedule.last_job_id, null);
  for (const path of ["/schedules", "/api/schedules"]) {
    const res = await f.request(path, { auth: false });
    assert.equal(res.status, 401, path);
    await res.body?.cancel();
  }
});

storeTest(
  "the schedules page lists next and last run in each zone, with its buttons; forms work without script",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addSchedule(tmp.db, "morning");
    const page = await (await f.request("/schedules")).text();
    assert.match(page, /<a href="\/schedules" aria-current="page">Schedules<\/a>/);
    assert.match(page, /<tr data-schedule="morning" data-paused="no">/);
    assert.match(page, /Europe\/Berlin/);
    assert.match(page, /\d{4}-\d\d-\d\d 09:00:00 \+0[12]:00/);
    assert.match(page, /action="\/api\/schedules\/morning\/pause"/);
    assert.match(page, /action="\/api\/schedules\/morning\/run"/);
    // Without script: a form post, then a redirect back to the page.
    const res = await f.request("/api/schedules/morning/pause", {
      method: "POST",
      body: new URLSearchParams({ return: "/schedules" }),
      headers: { Origin: BASE, Accept: "text/html" },
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/schedules");
    const live = await (await f.request("/schedules", { headers: { "X-Queuectl-Live": "1" } }))
      .text();
    assert.doesNotMatch(live, /<html/);
    assert.match(live, /<tr data-schedule="morning" data-paused="yes">/);
    assert.match(live, /action="\/api\/schedules\/morning\/resume"/);
    assert.match(live, />paused</);
  },
);
