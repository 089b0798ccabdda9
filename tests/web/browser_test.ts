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
    await page.waitForFunction(FLASH("Added job web-1"));
    await page.waitForFunction(
      `document.querySelector('nav [data-count="processing"]')?.textContent === "0 running"`,
    );

    // A job that fails on its first run and has no retries goes to the DLQ.
    await addJob(page, {
      command: `test -e '${flag}' || { touch '${flag}'; echo first run fails >&2; exit 3; }`,
      id: "flaky-1",
      max_retries: "0",
    });
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
    await page.waitForFunction(FLASH("Added job slow-1"));
    await page.goto(`${base}/jobs/slow-1`);
    await page.waitForFunction(LIVE);
    await page.waitForFunction(
      `document.querySelector("#live")?.textContent.includes("line-42")`,
    );
    assert.ok(await page.$("h1 .badge.state-processing"), "slow-1 is still running");
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
        `document.querySelector('${row} td[data-col="${col}"]')?.textContent === ${
          JSON.stringify(text)
        }`;
      await clickNow(page, `${row} form[action$="/pause"] button`);
      await page.waitForFunction(FLASH("Queue default paused"));
      await page.waitForFunction(cell("state", "paused"));
      const enqueued = await runCli(["enqueue", "--id", "held-1", "--", "true"], { db });
      assert.equal(enqueued.code, 0, enqueued.stderr);
      await page.waitForFunction(cell("pending", "1"));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.ok(await page.evaluate(cell("pending", "1")), "the paused queue ran nothing");
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
      await page.waitForFunction(cell("pending", "0"));
      await page.waitForFunction(cell("state", "active"));
      // A change made elsewhere (no count moves) shows within about a second.
      const paused = await runCli(["queue", "pause", "elsewhere"], { db });
      assert.equal(paused.code, 0, paused.stderr);
      await page.waitForSelector(`#live tr[data-queue="elsewhere"] td[data-col="state"]`);
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
      await page.waitForFunction(
        `document.querySelector('${row} td.last time')?.textContent.endsWith("+00:00")`,
      );
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

    // A picture of the overview for a person to look at.
    await page.goto(`${base}/`);
    await page.waitForFunction(LIVE);
    const shot = `${tmp.path}/overview.png`;
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok((await Deno.stat(shot)).size > 10_000, "the screenshot has content");
    // QUEUECTL_SCREENSHOT=<path> keeps a copy, e.g. to refresh docs/dashboard.png.
    if (Deno.env.get("QUEUECTL_SCREENSHOT")) {
      await Deno.copyFile(shot, Deno.env.get("QUEUECTL_SCREENSHOT")!);
    }

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

    // The job page edits a waiting job.
    await page.goto(`${base}/jobs/other-0`);
    await page.waitForFunction(LIVE);
    await page.click("details.edit summary");
    await page.evaluate(`{
      const form = document.querySelector("form.edit-form");
      form.querySelector('[name="priority"]').value = "7";
      form.querySelector('[name="tags"]').value = "edited, web";
      form.querySelector("button[type=submit]").click();
    }`);
    await page.waitForFunction(FLASH("Job other-0 edited"));
    const shown = await runCli(["show", "other-0", "--json"], { db });
    const job = JSON.parse(shown.stdout);
    assert.deepEqual([job.priority, job.tags], [7, ["edited", "web"]]);
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
