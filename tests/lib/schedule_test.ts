import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import {
  checkCron,
  checkScheduleName,
  checkTimeZone,
  formatInZone,
  MAX_CATCH_UP,
  nextDueAfter,
  nextDueTimes,
  parseCatchUp,
  planFire,
  scheduleJobId,
  scheduleJobs,
} from "../../lib/schedule.ts";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

function usageError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("checkCron() accepts 5 fields, 6 with seconds, and the nicknames", () => {
  assert.equal(checkCron("*/5 * * * *"), "*/5 * * * *");
  assert.equal(checkCron("  */2   * * * * * "), "*/2 * * * * *");
  for (const nick of ["@hourly", "@daily", "@weekly", "@monthly", "@yearly"]) {
    assert.equal(checkCron(nick), nick);
  }
  assert.equal(checkCron("@Daily"), "@daily");
});

Deno.test("checkCron() names the bad field", () => {
  usageError(() => checkCron("* 25 * * *"), /field 2 \(hour\) "25"/);
  usageError(() => checkCron("61 * * * * *"), /field 1 \(second\) "61"/);
  usageError(() => checkCron("* * 32 * *"), /field 3 \(day of month\) "32"/);
  usageError(() => checkCron("* * * 13 *"), /field 4 \(month\) "13"/);
  usageError(() => checkCron("* * * * mon-xyz"), /field 5 \(day of week\)/);
  usageError(() => checkCron("*/0 * * * *"), /field 1 \(minute\)/);
  usageError(() => checkCron("* * * *"), /4 fields, not 5 or 6/);
  usageError(() => checkCron("* * * * * * *"), /7 fields, not 5 or 6/);
  usageError(() => checkCron(""), /0 fields/);
  usageError(() => checkCron("@sometimes"), /unknown nickname "@sometimes"/);
});

Deno.test("checkTimeZone() knows IANA zones and refuses others", () => {
  assert.equal(checkTimeZone("Europe/Berlin"), "Europe/Berlin");
  assert.equal(checkTimeZone("UTC"), "UTC");
  usageError(() => checkTimeZone("Mars/Olympus"), /Unknown time zone "Mars\/Olympus"/);
});

Deno.test("checkScheduleName() and parseCatchUp() refuse other input", () => {
  assert.equal(checkScheduleName("nightly-backup.v2"), "nightly-backup.v2");
  usageError(() => checkScheduleName("has space"), /Invalid schedule name/);
  usageError(() => checkScheduleName("a@b"), /Invalid schedule name/);
  usageError(() => checkScheduleName("x".repeat(101)), /Invalid schedule name/);
  assert.equal(parseCatchUp("all"), "all");
  usageError(() => parseCatchUp("some"), /Invalid --catch-up "some"/);
});

Deno.test("nextDueAfter() is strictly after the instant, in the schedule's zone", () => {
  const t = at("2026-06-01T10:00:00Z");
  assert.equal(iso(nextDueAfter("*/2 * * * * *", "UTC", t)!), "2026-06-01T10:00:02.000Z");
  assert.equal(iso(nextDueAfter("*/2 * * * * *", "UTC", t - 1)!), "2026-06-01T10:00:00.000Z");
  // 09:00 in Berlin (summer, UTC+2) and in New York (UTC-4)
  assert.equal(iso(nextDueAfter("0 9 * * *", "Europe/Berlin", t)!), "2026-06-02T07:00:00.000Z");
  assert.equal(iso(nextDueAfter("0 9 * * *", "America/New_York", t)!), "2026-06-01T13:00:00.000Z");
  assert.equal(iso(nextDueAfter("@daily", "Asia/Tokyo", t)!), "2026-06-01T15:00:00.000Z");
});

Deno.test("nextDueTimes() follows a DST change in the schedule's zone", () => {
  // New York springs forward on 2026-03-08: 02:30 does not exist that day.
  const spring = nextDueTimes("30 2 * * *", "America/New_York", at("2026-03-07T12:00:00Z"), 3);
  assert.deepEqual(spring.map(iso), [
    "2026-03-08T07:00:00.000Z", // 03:00 EDT, the first time after the gap
    "2026-03-09T06:30:00.000Z", // 02:30 EDT
    "2026-03-10T06:30:00.000Z",
  ]);
  // 09:00 every day stays 09:00 local: 14:00Z before, 13:00Z after.
  const nine = nextDueTimes("0 9 * * *", "America/New_York", at("2026-03-07T00:00:00Z"), 2);
  assert.deepEqual(nine.map(iso), ["2026-03-07T14:00:00.000Z", "2026-03-08T13:00:00.000Z"]);
  // Falls back on 2026-11-01: 01:30 happens twice, the job runs once.
  const fall = nextDueTimes("30 1 * * *", "America/New_York", at("2026-10-31T12:00:00Z"), 2);
  assert.deepEqual(fall.map(iso), ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]);
  assert.equal(
    formatInZone(at("2026-03-08T07:00:00Z"), "America/New_York"),
    "2026-03-08 03:00:00 -04:00",
  );
  assert.equal(formatInZone(at("2026-03-08T07:00:00Z"), "UTC"), "2026-03-08 07:00:00 +00:00");
});

const EVERY_2S = "*/2 * * * * *";
const base = at("2026-06-01T10:00:00Z");

Deno.test("planFire() fires an on-time due time and nothing before it", () => {
  assert.deepEqual(
    planFire({ cron: EVERY_2S, tz: "UTC", catchUp: "one", nextRunAt: base + 2000, now: base }),
    { dueTimes: [], missed: 0, nextRunAt: base + 2000 },
  );
  for (const catchUp of ["none", "one", "all"] as const) {
    const plan = planFire({ cron: EVERY_2S, tz: "UTC", catchUp, nextRunAt: base, now: base + 30 });
    assert.deepEqual(plan, { dueTimes: [base], missed: 0, nextRunAt: base + 2000 });
  }
});

Deno.test("planFire() catches up on times missed while no worker ran: none, one, all", () => {
  // Due at :00 and nothing ran until :07.5: :00, :02, :04 are missed; :06 is on time.
  const now = base + 7500;
  const plan = (catchUp: "none" | "one" | "all", from = base) =>
    planFire({ cron: EVERY_2S, tz: "UTC", catchUp, nextRunAt: from, now });
  assert.deepEqual(plan("none"), { dueTimes: [base + 6000], missed: 3, nextRunAt: base + 8000 });
  assert.deepEqual(plan("one"), { dueTimes: [base + 6000], missed: 3, nextRunAt: base + 8000 });
  assert.deepEqual(plan("all"), {
    dueTimes: [base, base + 2000, base + 4000, base + 6000],
    missed: 0,
    nextRunAt: base + 8000,
  });
  // At :08.9 (:08 on time) vs :09.9 (:08 late by 1.9 s): `one` fires the latest either way.
  const late = (catchUp: "none" | "one" | "all") =>
    planFire({ cron: EVERY_2S, tz: "UTC", catchUp, nextRunAt: base, now: base + 9900 });
  assert.deepEqual(late("none"), { dueTimes: [], missed: 5, nextRunAt: base + 10000 });
  assert.deepEqual(late("one"), { dueTimes: [base + 8000], missed: 4, nextRunAt: base + 10000 });
  assert.equal(late("all").dueTimes.length, 5);
});

Deno.test("planFire() with all enqueues at most MAX_CATCH_UP, the latest, and counts the rest", () => {
  const now = base + 3 * 3600_000; // three hours of every 2 s: 5,400 due times
  const plan = planFire({ cron: EVERY_2S, tz: "UTC", catchUp: "all", nextRunAt: base, now });
  assert.equal(plan.dueTimes.length, MAX_CATCH_UP);
  assert.equal(plan.dueTimes.at(-1), now);
  assert.equal(plan.dueTimes[0], now - (MAX_CATCH_UP - 1) * 2000);
  assert.equal(plan.missed, 5401 - MAX_CATCH_UP);
  const one = planFire({ cron: EVERY_2S, tz: "UTC", catchUp: "one", nextRunAt: base, now });
  assert.deepEqual(one.dueTimes, [now]);
  assert.equal(one.missed, 5400);
});

Deno.test("scheduleJobs() names each job <name>@<due time ISO>, due then, keyed without overlap", () => {
  const job = {
    command: "echo hi",
    queue: "default",
    priority: 0,
    max_retries: null,
    timeout: null,
    env: null,
    cwd: null,
  };
  const jobs = scheduleJobs({ name: "tick", job, overlap: false }, [base]);
  assert.equal(jobs[0]!.id, "tick@2026-06-01T10:00:00.000Z");
  assert.equal(jobs[0]!.id, scheduleJobId("tick", base));
  assert.equal(jobs[0]!.run_at, base);
  assert.equal(jobs[0]!.command, "echo hi");
  assert.equal(jobs[0]!.key, "schedule:tick", "without overlap the job carries the key");
  assert.equal(jobs[0]!.after, null);
  assert.equal(jobs[0]!.retry_on, null);
  const overlapping = scheduleJobs(
    { name: "tick", job: { ...job, retry_on: [3, "timeout"] }, overlap: true },
    [base],
  );
  assert.equal(overlapping[0]!.key, null);
  assert.deepEqual(overlapping[0]!.retry_on, [3, "timeout"]);
});
