/**
 * The dashboard in a real browser: Debian's headless Chromium driven by
 * puppeteer-core against the real `queuectl dashboard --workers 1` on a temp
 * database. Everything talks to 127.0.0.1 only.
 */
import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { runCli, tempDir } from "../_helpers.ts";
import { freePort, startDashboard } from "./_process.ts";
import { errorMessage } from "../../lib/errors.ts";

const CHROMIUM = "/usr/bin/chromium";

// Expressions evaluated in the page (strings, as this file is not type-checked with the DOM).
const LIVE = `document.getElementById("live-status")?.textContent === "live"`;
const FLASH = (text: string) =>
  `document.getElementById("flash")?.textContent === ${JSON.stringify(text)}`;
// The add-job form answers beside its button.
const FORM_SAYS = (text: string) =>
  `document.querySelector("#add-job [data-form-status]")?.textContent === ${JSON.stringify(text)}`;
/**
 * Elements whose content is wider than they are, and that neither scroll
 * with a hint (`data-scroll-hint`) nor clip on purpose (an ellipsis); and
 * the page itself when it is wider than the screen.
 */
const OVERFLOWING = `(() => {
  const found = [];
  if (document.documentElement.scrollWidth > innerWidth) found.push("the page");
  for (const el of document.querySelectorAll("body *")) {
    if (el.scrollWidth <= el.clientWidth + 1) continue;
    const style = getComputedStyle(el);
    if (style.textOverflow === "ellipsis" || style.overflowX === "visible") continue;
    if (el.closest("[data-scroll-hint]") || el.closest("pre")) continue;
    found.push(el.tagName.toLowerCase() + (el.className ? "." + el.className : ""));
  }
  return found;
})()`;

/** Whether the element `selector` finds is wholly inside the viewport. */
const IN_VIEW = (selector: string) =>
  `(() => { const r = document.querySelector(${JSON.stringify(selector)})?.getBoundingClientRect();
    return !!r && r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; })()`;

async function launch(profile: string): Promise<Browser> {
  try {
    Deno.statSync(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install chromium); .ci/run does`,
    );
  }
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile}`,
    ],
  });
}

/** Whether the page is still the one loaded first (a reload would drop the marker). */
function notReloaded(page: Page): Promise<boolean> {
  return page.evaluate(() =>
    (globalThis as { __queuectlMarker?: boolean }).__queuectlMarker === true
  );
}

function mark(page: Page): Promise<void> {
  return page.evaluate(() => {
    (globalThis as { __queuectlMarker?: boolean }).__queuectlMarker = true;
  });
}

/**
 * Clicks `selector` in one step in the page: live rows are re-rendered when
 * their data moves, so a handle found first may be detached by the click.
 */
async function clickNow(page: Page, selector: string): Promise<void> {
  await page.waitForSelector(selector);
  await page.evaluate(`document.querySelector(${JSON.stringify(selector)}).click()`);
}

async function addJob(page: Page, fields: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(fields)) {
    await page.locator(`#add-job [name="${name}"]`).fill(value);
  }
  await page.click("#add-job button[type=submit]");
}

Deno.test("in a browser: add a job and watch it complete live, retry a dead job from the DLQ", async () => {
  await using tmp = await tempDir();
  const db = `${tmp.path}/queue.db`;
  const flag = `${tmp.path}/ran-once`;
  const port = freePort();
  const token = "browser-test-token";
  const base = `http://127.0.0.1:${port}`;
  await using dash = await startDashboard({ db, port, token, workers: 1 });

  const browser = await launch(`${tmp.path}/chromium-profile`);
  try {
    await drive(browser);
  } catch (error) {
    // What the dashboard and its worker said explains most failures here.
    throw new Error(
      `${errorMessage(error)}\n--- dashboard output ---\n` +
        dash.output() + dash.errors(),
      { cause: error },
    );
  } finally {
    await browser.close();
  }
  assert.equal(await dash.stop("SIGTERM"), 0);
  assert.match(dash.output(), /job web-1 {2}completed/);

  /** Jobs, queues and schedules like a real deployment's, for the pictures. */
  async function seed() {
    const api = (path: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }).then(async (res) => assert.ok(res.ok, `${path}: ${res.status} ${await res.text()}`));
    const jobs = [];
    for (let i = 1; i <= 12; i++) {
      jobs.push({ id: `thumb-${i}`, command: `echo thumbnail ${i}`, queue: "images" });
    }
    for (let i = 1; i <= 6; i++) {
      jobs.push({ id: `mail-${i}`, command: `echo sending mail ${i}`, queue: "emails" });
    }
    for (let i = 1; i <= 4; i++) {
      jobs.push({ id: `report-${i}`, command: `sleep 0.${i}; echo report ${i}`, queue: "reports" });
    }
    jobs.push({ id: "backup-tonight", command: "echo backup", delay: "6h", queue: "maintenance" });
    jobs.push({ id: "reindex", command: "echo reindex", delay: "59m", queue: "maintenance" });
    await api("/api/queues/emails/pause", {});
    await api("/api/queues/reports/concurrency", { concurrency: 1 });
    await api("/api/jobs", jobs);
    for (
      const args of [
        ["nightly-report", "--cron", "0 3 * * *", "--tz", "Europe/Berlin", "--", "echo report"],
        ["cleanup", "--cron", "*/15 * * * *", "--", "find /tmp -mtime +7 -delete"],
      ]
    ) {
      const added = await runCli(["schedule", "add", ...args], { db });
      assert.equal(added.code, 0, added.stderr);
    }
    const removed = await runCli(["schedule", "rm", "tick"], { db });
    assert.equal(removed.code, 0, removed.stderr);
  }

  /**
   * Pictures for a person to look at (and README): the overview, jobs,
   * queues, schedules and a job at `width`. QUEUECTL_SCREENSHOTS=<dir>
   * keeps them, e.g. `docs/`.
   */
  async function screenshots(page: Page, width: number) {
    await page.setViewport({ width, height: width > 600 ? 900 : 844 });
    const keep = Deno.env.get("QUEUECTL_SCREENSHOTS");
    for (
      const [name, path] of [
        ["overview", "/"],
        ["queues", "/queues"],
        ["schedules", "/schedules"],
        ["scheduled", "/jobs?state=scheduled"],
        ["job", "/jobs/slow-1"],
      ]
    ) {
      await page.goto(`${base}${path}`);
      await page.waitForFunction(LIVE);
      const shot = `${tmp.path}/${name}-${width}.png`;
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok((await Deno.stat(shot)).size > 10_000, "the screenshot has content");
      if (keep) await Deno.copyFile(shot, `${keep}/${name}-${width}.png`);
    }
  }

  async function drive(browser: Browser) {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    await page.setViewport({ width: 1280, height: 900 });
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`);
    });

    // The printed URL sets the cookie and drops the token from the address bar.
    await page.goto(`${base}/?token=${token}`);
    assert.equal(page.url(), `${base}/`);
    await page.waitForFunction(LIVE);
    await mark(page);

    // Dark by default, light when the system asks for it.
    const background = () => page.evaluate("getComputedStyle(document.body).backgroundColor");
    assert.equal(await background(), "rgb(15, 17, 21)");
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
    assert.equal(await background(), "rgb(246, 247, 249)");
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);

    // Add a job through the form; it appears, runs and completes without a reload.
    await addJob(page, { command: "echo hello from the browser", id: "web-1" });
    await page.waitForSelector('#live tr[data-job-id="web-1"]');
    await page.waitForSelector('#live tr[data-job-id="web-1"][data-state="completed"]');
    // The answer is beside the button pressed, in view, not at the top of the page.
    await page.waitForFunction(FORM_SAYS("Added job web-1"));
    assert.ok(await page.evaluate(IN_VIEW("#add-job [data-form-status] div")), "answer in view");
    await page.waitForFunction(
      `document.querySelector('nav [data-count="processing"]')?.textContent === "0"`,
    );
    // A refused job says why, in the same place.
    await addJob(page, { command: "true", id: "web-2", delay: "soon" });
    await page.waitForFunction(
      `document.querySelector("#add-job [data-form-status] .error")?.textContent.includes("delay")`,
    );
    assert.ok(await page.evaluate(IN_VIEW("#add-job [data-form-status] div")), "error in view");
    await page.locator('#add-job [name="delay"]').fill("");
    // The browser logs the refused request (400), which was the point here.
    const refused = problems.findIndex((p) => p.includes("status of 400"));
    if (refused >= 0) problems.splice(refused, 1);

    // A job that fails on its first run and has no retries goes to the DLQ.
    await addJob(page, {
      command: `test -e '${flag}' || { touch '${flag}'; echo first run fails >&2; exit 3; }`,
      id: "flaky-1",
      max_retries: "0",
    });
    await page.waitForFunction(FORM_SAYS("Added job flaky-1"));
    await page.waitForSelector('#live tr[data-job-id="flaky-1"][data-state="dead"]');
    await page.waitForFunction(
      `document.querySelector('nav [data-count="dead"]')?.textContent === "1"`,
    );
    assert.ok(await notReloaded(page), "the overview never reloaded");

    // Retry it from the DLQ page: it leaves the DLQ and, run again, completes.
    await page.goto(`${base}/dlq`);
    await page.waitForFunction(LIVE);
    await mark(page);
    await clickNow(page, '#live tr[data-job-id="flaky-1"] button[type=submit]');
    await page.waitForFunction(`!document.querySelector('#live tr[data-job-id="flaky-1"]')`);
    await page.waitForFunction(FLASH("Job flaky-1 is pending again"));
    await page.waitForFunction(
      `document.querySelector('nav [data-count="dead"]')?.textContent === "0"`,
    );
    assert.ok(await notReloaded(page), "the DLQ page never reloaded");

    await page.goto(`${base}/jobs/flaky-1`);
    await page.waitForSelector("h1 .badge.state-completed");
    const attempt = await page.$eval("#live", (el) => el.textContent ?? "");
    assert.match(attempt, /Attempt 1/);

    // The page of a running job shows its output as it comes, before the job ends.
    const gate = `${tmp.path}/gate`;
    await page.goto(`${base}/`);
    await page.waitForFunction(LIVE);
    await addJob(page, {
      // The first line comes after the page has been rendered; the arithmetic keeps the
      // printed words ("line-42") out of the command, which the page shows too.
      command: `sleep 1.5; echo line-$((6*7)); for i in $(seq 150); do [ -e '${gate}' ] && ` +
        `break; sleep 0.1; done; echo line-$((6*8))`,
      id: "slow-1",
    });
    await page.waitForFunction(FORM_SAYS("Added job slow-1"));
    await page.goto(`${base}/jobs/slow-1`);
    await page.waitForFunction(LIVE);
    await page.waitForFunction(
      `document.querySelector("#live")?.textContent.includes("line-42")`,
    );
    assert.ok(await page.$("h1 .badge.state-processing"), "slow-1 is still running");
    // Its time so far against its timeout (the default, 60 s), counting up.
    assert.match(
      await page.$eval("#live .summary", (el) => el.textContent ?? ""),
      /running \d+ s of 1 min/,
    );
    assert.match(
      await page.$eval("#live .summary", (el) => el.textContent ?? ""),
      /Max retries3 \(default\)/,
    );
    await Deno.writeTextFile(gate, "");
    await page.waitForSelector("h1 .badge.state-completed");
    await page.waitForFunction(
      `document.querySelector("#live")?.textContent.includes("line-48")`,
    );

    {
      // The queues page: pause, a limit and resume from the buttons, live, no reload.
      await page.goto(`${base}/queues`);
      await page.waitForFunction(LIVE);
      await mark(page);
      const row = `#live tr[data-queue="default"]`;
      const cell = (col: string, text: string) =>
        `document.querySelector('${row} [data-col="${col}"]')?.textContent.trim() === ${
          JSON.stringify(text)
        }`;
      await clickNow(page, `${row} form[action$="/pause"] button`);
      await page.waitForFunction(FLASH("Queue default paused"));
      await page.waitForFunction(cell("state", "paused"));
      const enqueued = await runCli(["enqueue", "--id", "held-1", "--", "true"], { db });
      assert.equal(enqueued.code, 0, enqueued.stderr);
      await page.waitForFunction(cell("waiting", "1"));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.ok(await page.evaluate(cell("waiting", "1")), "the paused queue ran nothing");
      // Its oldest waiting job's age shows, and counts up.
      await page.waitForFunction(
        `/^\\d+ s$/.test(document.querySelector('${row} [data-col="latency"]')?.textContent.trim())`,
      );
      // Typing a limit while the page updates every second: the text and the focus stay.
      const limit = `${row} input[name="concurrency"]`;
      await page.click(limit, { count: 3 });
      await page.keyboard.type("3", { delay: 150 });
      await runCli(["enqueue", "--id", "held-2", "--", "true"], { db });
      await page.waitForFunction(cell("waiting", "2"));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.deepEqual(
        await page.evaluate(`[document.querySelector('${limit}').value,
          document.activeElement === document.querySelector('${limit}')]`),
        ["3", true],
        "the limit being typed kept its text and focus",
      );
      await page.keyboard.press("Escape");
      await page.evaluate("document.activeElement.blur()");
      // Typed and sent in one step, so that no re-render of the row drops the value.
      await page.evaluate(`{
        const form = document.querySelector('${row} form[action$="/concurrency"]');
        form.querySelector('input[name="concurrency"]').value = "2";
        form.querySelector("button").click();
      }`);
      await page.waitForFunction(FLASH("Queue default now has a limit of 2"));
      await page.waitForFunction(cell("limit", "2"));
      await clickNow(page, `${row} form[action$="/resume"] button`);
      await page.waitForFunction(FLASH("Queue default resumed"));
      await page.waitForFunction(cell("waiting", "0"));
      await page.waitForFunction(cell("state", "active"));
      // A change made elsewhere (no count moves) shows within about a second.
      const paused = await runCli(["queue", "pause", "elsewhere"], { db });
      assert.equal(paused.code, 0, paused.stderr);
      await page.waitForSelector(`#live tr[data-queue="elsewhere"] [data-col="state"]`);
      assert.ok(await notReloaded(page), "the queues page never reloaded");
    }
    {
      // Schedules: one added from the CLI appears live, fires (its last run fills in),
      // is paused and run now from the page, without a reload.
      await page.goto(`${base}/schedules`);
      await page.waitForFunction(LIVE);
      await mark(page);
      const added = await runCli(
        [
          "schedule",
          "add",
          "tick",
          "--cron",
          "*/2 * * * * *",
          "--tz",
          "UTC",
          "--overlap",
          "--",
          "true",
        ],
        { db },
      );
      assert.equal(added.code, 0, added.stderr);
      const row = '#live tr[data-schedule="tick"]';
      // The row is re-rendered at each fire (every 2 s).
      await page.waitForSelector(`${row}[data-paused="no"] td.last time`);
      // In the browser's zone with how long ago; the schedule's zone and UTC on hover.
      await page.waitForFunction(
        `document.querySelector('${row} td.last time')?.textContent.includes(" · ")`,
      );
      assert.match(await page.$eval(`${row} td.last time`, (el) => el.title), / in UTC · .* UTC$/);
      await clickNow(page, `${row} form[action$="/pause"] button`);
      await page.waitForSelector(`${row}[data-paused="yes"]`);
      await page.waitForFunction(FLASH("Schedule tick paused"));
      await clickNow(page, `${row} form[action$="/run"] button`);
      await page.waitForFunction(
        `document.getElementById("flash")?.textContent.startsWith("Enqueued job tick@")`,
      );
      await clickNow(page, `${row} form[action$="/resume"] button`);
      await page.waitForSelector(`${row}[data-paused="no"]`);
      assert.ok(await notReloaded(page), "the schedules page never reloaded");
    }

    {
      // A delayed job is "scheduled", not ready: the scheduled view lists it with its
      // run-at, and "Run now" makes it due at once (the worker then runs it).
      await page.goto(`${base}/`);
      await page.waitForFunction(LIVE);
      await addJob(page, { command: "echo later", id: "later-1", delay: "1h" });
      await page.waitForFunction(FORM_SAYS("Added job later-1"));
      await page.goto(`${base}/jobs?state=scheduled`);
      await page.waitForFunction(LIVE);
      await mark(page);
      const row = '#live tr[data-job-id="later-1"]';
      assert.equal(await page.$eval(`${row} .badge`, (el) => el.textContent), "scheduled");
      assert.match(
        await page.$eval(`${row} td.when`, (el) => el.textContent ?? ""),
        /^runs .* · in (60|59) min$/,
      );
      await clickNow(page, `${row} form[action$="/run"] button`);
      await page.waitForFunction(FLASH("Job later-1 is due now; a free worker starts it"));
      assert.ok(await page.evaluate(IN_VIEW("#flash div")), "the answer is in view");
      await page.waitForFunction(`!document.querySelector('${row}')`);
      assert.ok(await notReloaded(page), "the scheduled view never reloaded");
      await page.goto(`${base}/jobs/later-1`);
      await page.waitForSelector("h1 .badge.state-completed");
    }
    {
      // The DLQ shows each job's last error; purging asks first, naming the count.
      const dead = await runCli(
        ["enqueue", "--id", "doomed-1", "--max-retries", "0", "--", "false"],
        { db },
      );
      assert.equal(dead.code, 0, dead.stderr);
      await page.goto(`${base}/dlq`);
      await page.waitForFunction(LIVE);
      await page.waitForSelector('#live tr[data-job-id="doomed-1"]');
      assert.match(
        await page.$eval('#live tr[data-job-id="doomed-1"] td.error', (el) => el.textContent ?? ""),
        /exit code 1/,
      );
      await clickNow(page, "#live details.confirm[data-key^=purge] summary");
      assert.match(
        await page.$eval("#live details.confirm[data-key^=purge] p", (el) => el.textContent ?? ""),
        /^Delete 1 dead job with/,
      );
      await clickNow(page, "#live details.confirm[data-key^=purge] button");
      await page.waitForFunction(FLASH("Deleted 1 dead job"));
      await page.waitForFunction(`!document.querySelector('#live tr[data-job-id="doomed-1"]')`);
    }
    {
      // Times in the browser's zone, with how far off; UTC on hover.
      await page.emulateTimezone("Asia/Tokyo");
      await page.goto(`${base}/jobs/web-1`);
      await page.waitForFunction(LIVE);
      const shown = await page.$eval('#live time[data-fmt="both"]', (el) => ({
        text: el.textContent ?? "",
        title: el.title,
        iso: el.getAttribute("datetime") ?? "",
      }));
      const tokyo = new Intl.DateTimeFormat("en-US", {
        timeZone: "Asia/Tokyo",
        hour: "2-digit",
        hourCycle: "h23",
      }).format(new Date(shown.iso));
      // The browser's locale may write 12-hour times ("01:05:51 PM"): read the hour back as 0-23.
      const clock = /(\d{1,2}):\d\d(?::\d\d)?\s*(AM|PM)?/.exec(shown.text);
      assert.ok(clock, `${shown.text} shows a time of day`);
      const hour = Number(clock[1]) % 12 +
        (clock[2] === "PM" ? 12 : clock[2] ? 0 : Number(clock[1]) >= 12 ? 12 : 0);
      assert.equal(hour, Number(tokyo), `${shown.text} is in Tokyo's zone (${tokyo} h)`);
      assert.match(shown.text, / · \d+ (s|min) ago$/);
      assert.doesNotMatch(shown.text, /UTC/);
      assert.match(shown.title, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      await page.emulateTimezone("UTC");
    }

    await seed();
    await screenshots(page, 1280);
    {
      // A phone: nothing wider than the screen unless it says it scrolls, the
      // navigation on one line, the add-job answer in view.
      await page.setViewport({ width: 390, height: 844 });
      for (
        const path of [
          "/",
          "/jobs",
          "/jobs?state=scheduled",
          "/jobs/slow-1",
          "/queues",
          "/schedules",
          "/dlq",
        ]
      ) {
        await page.goto(`${base}${path}`);
        await page.waitForFunction(LIVE);
        const wide = await page.evaluate(OVERFLOWING) as string[];
        assert.deepEqual(wide, [], `${path} at 390 px: content wider than the screen, no hint`);
        const header = await page.$eval("header.top", (el) => el.getBoundingClientRect().height);
        assert.ok(header < 90, `${path}: the header is ${header} px high`);
      }
      await page.goto(`${base}/`);
      await page.waitForFunction(LIVE);
      await addJob(page, { command: "echo from a phone", id: "phone-1" });
      await page.waitForFunction(FORM_SAYS("Added job phone-1"));
      assert.ok(await page.evaluate(IN_VIEW("#add-job [data-form-status] div")), "answer in view");
      await screenshots(page, 390);
    }

    // The 401 page offers a box for the token, which opens the dashboard.
    const stranger = await browser.createBrowserContext();
    const fresh = await stranger.newPage();
    await fresh.goto(`${base}/queues`);
    await fresh.type('input[name="token"]', token);
    await Promise.all([fresh.waitForNavigation(), fresh.click("button[type=submit]")]);
    assert.equal(fresh.url(), `${base}/queues`);
    await fresh.waitForSelector('#live tr[data-queue="default"]');
    await stranger.close();

    assert.deepEqual(problems, []);
  }
});

Deno.test("in a browser: select jobs by filter, see the count, confirm, and the page updates live", async () => {
  await using tmp = await tempDir();
  const db = `${tmp.path}/queue.db`;
  const lines = [
    ...Array.from({ length: 30 }, (_, i) => ({ id: `b7-${i}`, command: "true", tags: ["batch7"] })),
    ...Array.from({ length: 10 }, (_, i) => ({ id: `other-${i}`, command: "true" })),
  ].map((job) => JSON.stringify(job)).join("\n");
  const enqueued = await runCli(["enqueue", "--file", "-"], { db, stdin: lines });
  assert.equal(enqueued.code, 0, enqueued.stderr);
  const port = freePort();
  const token = "browser-test-token";
  const base = `http://127.0.0.1:${port}`;
  await using dash = await startDashboard({ db, port, token });
  const browser = await launch(`${tmp.path}/chromium-profile`);
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error}`));
    const dialogs: string[] = [];
    page.on("dialog", async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.accept();
    });
    await page.goto(`${base}/?token=${token}`);
    await page.goto(`${base}/jobs`);
    await page.waitForFunction(LIVE);

    // Filter by tag through the bar: the count of matching jobs shows.
    await page.locator('form.filters [name="tag"]').fill("batch7");
    await page.click("form.filters button[type=submit]");
    await page.waitForSelector("[data-matching]");
    await page.waitForFunction(LIVE);
    await mark(page);
    assert.equal(await page.$eval("[data-matching]", (el) => el.textContent), "30");

    // Cancel all matching: the confirmation names the count; the page updates live.
    await clickNow(page, 'form[action="/api/jobs/bulk/cancel"] button');
    await page.waitForFunction(FLASH("cancelled 30 jobs"));
    assert.deepEqual(dialogs, ["Cancel 30 matching jobs?"]);
    await page.waitForSelector('#live tr[data-job-id="b7-0"][data-state="cancelled"]');
    await page.waitForFunction(
      `document.querySelector('form[action="/api/jobs/bulk/delete"] button')?.textContent === "Delete all matching (30)"`,
    );
    assert.ok(await notReloaded(page), "the jobs page never reloaded");

    // A change made elsewhere shows too: hold the others from the CLI, then release them here.
    const held = await runCli(["hold", "--queue", "default", "--state", "pending"], { db });
    assert.equal(held.code, 0, held.stderr);
    await page.goto(`${base}/jobs?state=held`);
    await page.waitForFunction(LIVE);
    assert.equal(await page.$eval("[data-matching]", (el) => el.textContent), "10");
    await clickNow(page, 'form[action="/api/jobs/bulk/release"] button');
    await page.waitForFunction(FLASH("released 10 jobs"));
    await page.waitForFunction(`document.querySelector("[data-matching]")?.textContent === "0"`);
    assert.equal(dialogs.at(-1), "Release 10 matching jobs?");

    // The job page edits a waiting job; what is typed survives a live update (a hold
    // from the CLI, which turns the page's Hold button into Release).
    await page.goto(`${base}/jobs/other-0`);
    await page.waitForFunction(LIVE);
    await page.click("details.edit summary");
    const command = 'form.edit-form [name="command"]';
    await page.click(command, { count: 3 });
    await page.keyboard.type("echo edited", { delay: 20 });
    const holdOne = await runCli(["hold", "other-0"], { db });
    assert.equal(holdOne.code, 0, holdOne.stderr);
    await page.waitForSelector('#live form[action="/api/jobs/other-0/release"]');
    assert.deepEqual(
      await page.evaluate(`[document.querySelector('${command}').value,
        document.activeElement === document.querySelector('${command}')]`),
      ["echo edited", true],
      "the command being typed kept its text and focus",
    );
    await page.evaluate(`{
      const form = document.querySelector("form.edit-form");
      form.querySelector('[name="priority"]').value = "7";
      form.querySelector('[name="tags"]').value = "edited, web";
      form.querySelector("button[type=submit]").click();
    }`);
    await page.waitForFunction(FLASH("Job other-0 edited"));
    const shown = await runCli(["show", "other-0", "--json"], { db });
    const job = JSON.parse(shown.stdout);
    assert.deepEqual(
      [job.command, job.priority, job.tags, job.state],
      ["echo edited", 7, ["edited", "web"], "held"],
    );
    assert.deepEqual(problems, []);
  } catch (error) {
    throw new Error(
      `${errorMessage(error)}\n--- dashboard output ---\n${dash.output()}${dash.errors()}`,
      {
        cause: error,
      },
    );
  } finally {
    await browser.close();
  }
  assert.equal(await dash.stop("SIGTERM"), 0);
});
