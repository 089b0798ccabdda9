/**
 * The dashboard's operator actions and views: run a delayed job now, the
 * scheduled view, purge the DLQ, queue latency in `/metrics`, the "not
 * found" page in the frame and the 401 page's token box.
 */
import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { addJobs, appFixture, BASE, runJob } from "./_fixtures.ts";
import { storeTest } from "../_helpers.ts";

const HOUR = 3_600_000;

storeTest(
  "POST /api/jobs/:id/run makes a delayed job due now; 409 for one not pending",
  async (tmp) => {
    // addJobs adds at the real clock: the test's clock is a second later.
    const T = Date.now() + 1000;
    await using f = await appFixture({ now: () => T }, tmp);
    await f.store.jobInsertMany({
      jobs: [{
        id: "later",
        command: "true",
        queue: "default",
        priority: 0,
        max_retries: null,
        timeout: null,
        env: null,
        cwd: null,
        run_at: T + HOUR,
        after: null,
        key: null,
        retry_on: null,
      }],
      now: T,
    });
    await addJobs(f.store, { id: "ready" });

    const scheduled = await (await f.request("/api/jobs?state=scheduled")).json();
    assert.deepEqual(scheduled.jobs.map((j: Job) => j.id), ["later"]);
    const page = await (await f.request("/jobs?state=scheduled")).text();
    assert.match(page, /<span class="badge state-scheduled"[^>]*>scheduled<\/span>/);
    assert.match(page, /action="\/api\/jobs\/later\/run"/);
    assert.ok(page.includes(`runs <time datetime="${new Date(T + HOUR).toISOString()}"`), page);

    const wakes = f.wakes;
    const res = await f.request("/api/jobs/later/run", { method: "POST" });
    assert.equal(res.status, 200);
    const job = await res.json() as Job;
    assert.equal(job.next_run_at, new Date(T).toISOString());
    assert.equal(f.wakes, wakes + 1, "the in-process workers are woken");
    const after = await (await f.request("/api/jobs?state=scheduled")).json();
    assert.deepEqual(after.jobs, []);

    await f.store.jobCancel({ ids: ["ready"], now: T });
    const refused = await f.request("/api/jobs/ready/run", { method: "POST" });
    assert.equal(refused.status, 409);
    assert.match((await refused.json()).error, /Cannot run job "ready" now: job is cancelled/);
    assert.equal((await f.request("/api/jobs/nope/run", { method: "POST" })).status, 404);
  },
);

storeTest("run now and purge pass the same token and Origin checks as every write", async (tmp) => {
  await using f = await appFixture({}, tmp);
  for (const path of ["/api/jobs/x/run", "/api/dlq/purge"]) {
    assert.equal((await f.request(path, { method: "POST", auth: false })).status, 401, path);
    const foreign = await f.request(path, {
      method: "POST",
      headers: { Origin: "https://evil.example", Authorization: "Bearer test-token-0123456789" },
    });
    assert.equal(foreign.status, 403, path);
  }
});

storeTest(
  "POST /api/dlq/purge deletes every dead job; the DLQ asks first, naming the count",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addJobs(f.store, { id: "d1", max_retries: 0 });
    await runJob(f.store, "d1", { ok: false });
    await addJobs(f.store, { id: "d2", max_retries: 0 });
    await runJob(f.store, "d2", { ok: false });
    await addJobs(f.store, { id: "ok" });
    const dlq = await (await f.request("/dlq")).text();
    assert.match(
      dlq,
      /Delete 2 dead jobs with their attempts and output\? This cannot be undone\./,
    );
    assert.match(dlq, /Put 2 dead jobs back to pending/);
    assert.match(dlq, /<td class="command error"><code[^>]*>exit code 1<\/code>/);
    const purged = await f.request("/api/dlq/purge", { method: "POST" });
    assert.equal(purged.status, 200);
    assert.deepEqual(await purged.json(), { deleted: 2 });
    assert.equal((await f.store.jobCountByState()).dead, 0);
    assert.ok(await f.store.jobGet({ id: "ok" }), "other jobs stay");
  },
);

storeTest("/metrics has each queue's latency", async (tmp) => {
  const start = Date.now();
  await using f = await appFixture({ now: () => start + 90_000 }, tmp);
  await addJobs(f.store, { id: "w1", queue: "mail" });
  const text = await (await f.request("/metrics")).text();
  assert.match(text, /# TYPE queuectl_queue_latency_seconds gauge/);
  const line = text.split("\n").find((l) =>
    l.startsWith('queuectl_queue_latency_seconds{queue="mail"}')
  );
  assert.ok(line, text);
  const seconds = Number(line.split(" ")[1]);
  assert.ok(seconds >= 85 && seconds <= 95, line);
});

storeTest(
  "a missing job's page keeps the navigation and says what to do in the dashboard",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    const res = await f.request("/jobs/gone-1", { headers: { Accept: "text/html" } });
    assert.equal(res.status, 404);
    const page = await res.text();
    assert.match(page, /<nav data-scroll-hint/);
    assert.match(page, /Job &quot;gone-1&quot; not found|Job "gone-1" not found/);
    assert.match(page, /href="\/jobs\?q=gone-1"/);
    assert.doesNotMatch(page, /queuectl list/);
    const other = await f.request("/nowhere");
    assert.equal(other.status, 404);
    assert.match(await other.text(), /<nav data-scroll-hint/);
    const api = await f.request("/api/nowhere");
    assert.equal(api.status, 404);
    assert.match((await api.json()).error, /Nothing at GET \/api\/nowhere/);
  },
);

storeTest("the 401 page has a box for the token that opens the page asked for", async (tmp) => {
  await using f = await appFixture({}, tmp);
  const res = await f.app.request(new Request(`${BASE}/queues`));
  assert.equal(res.status, 401);
  const page = await res.text();
  assert.match(page, /<form method="get" action="\/queues">/);
  assert.match(page, /<input name="token" type="password"/);
});
