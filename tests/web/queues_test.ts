/** The dashboard's queues page and its API: the queue list --json document, pause, resume, limits. */
import assert from "node:assert/strict";
import type { QueueInfo } from "../../lib/storage/storage.ts";
import { cliJson, storeTest } from "../_helpers.ts";
import { addJobs, appFixture, BASE } from "./_fixtures.ts";

const json = (body: unknown): RequestInit => ({
  method: "POST",
  body: JSON.stringify(body),
  headers: { "Content-Type": "application/json" },
});

storeTest("GET /api/queues is the queue list --json document", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "a", queue: "mail" }, { id: "b" });
  await f.store.queueSet({ name: "mail", concurrency: 2 });
  const res = await f.request("/api/queues");
  assert.equal(res.status, 200);
  const queues = await res.json() as QueueInfo[];
  assert.deepEqual(queues, await cliJson(["queue", "list"], { db: f.db }));
  assert.deepEqual(queues.map((q) => [q.name, q.counts.pending, q.concurrency]), [
    ["default", 1, 0],
    ["mail", 1, 2],
  ]);
});

storeTest(
  "POST /api/queues/:name/pause, /resume and /concurrency change the queue",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    const paused = await f.request("/api/queues/nightly/pause", { method: "POST" });
    assert.equal(paused.status, 200);
    assert.deepEqual(
      await paused.json(),
      {
        name: "nightly",
        counts: {
          pending: 0,
          blocked: 0,
          held: 0,
          processing: 0,
          completed: 0,
          failed: 0,
          dead: 0,
          cancelled: 0,
        },
        running: 0,
        paused: true,
        concurrency: 0,
        rate: null,
        group_concurrency: 0,
      },
    );
    const limited = await f.request("/api/queues/nightly/concurrency", json({ concurrency: 3 }));
    assert.equal(limited.status, 200);
    assert.equal((await limited.json()).concurrency, 3);
    const resumed = await f.request("/api/queues/nightly/resume", { method: "POST" });
    assert.equal((await resumed.json()).paused, false);
    const [q] = await f.store.queueList();
    assert.deepEqual([q?.name, q?.paused, q?.concurrency], ["nightly", false, 3]);
    assert.ok(f.wakes >= 3, "each change wakes the dashboard's workers");
  },
);

storeTest("queue actions refuse bad input with 400 and change nothing", async (tmp) => {
  await using f = await appFixture({}, tmp);
  const bad: [string, RequestInit][] = [
    ["/api/queues/nightly/concurrency", json({ concurrency: -1 })],
    ["/api/queues/nightly/concurrency", json({ concurrency: "abc" })],
    ["/api/queues/nightly/concurrency", json({})],
    ["/api/queues/nightly/concurrency", { method: "POST", body: "not json" }],
    ["/api/queues/bad%20name/pause", { method: "POST" }],
  ];
  for (const [path, init] of bad) {
    const res = await f.request(path, init);
    assert.equal(res.status, 400, path);
    assert.match((await res.json()).error, /Invalid|not JSON/);
  }
  assert.deepEqual(await f.store.queueList(), []);
});

storeTest("queue actions follow the token and Origin rules of every write", async (tmp) => {
  await using f = await appFixture({}, tmp);
  const noToken = await f.request("/api/queues/q/pause", { method: "POST", auth: false });
  assert.equal(noToken.status, 401);
  await noToken.body?.cancel();
  const foreign = await f.request("/api/queues/q/pause", {
    method: "POST",
    headers: { Origin: "http://evil.example" },
  });
  assert.equal(foreign.status, 403);
  await foreign.body?.cancel();
  assert.deepEqual(await f.store.queueList(), []);
});

storeTest(
  "the queues page lists queues with their buttons; a plain form redirects back",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addJobs(f.store, { id: "a", queue: "mail" }, { id: "b", queue: "<b>x</b>" });
    await f.store.queueSet({ name: "mail", paused: true, concurrency: 4 });
    const page = await f.request("/queues", { headers: { Accept: "text/html" } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<a href="\/queues" aria-current="page">Queues<\/a>/);
    assert.match(html, /<tr data-queue="mail">/);
    assert.match(html, /action="\/api\/queues\/mail\/resume"/);
    assert.match(html, /name="concurrency"[^>]*value="4"/);
    assert.ok(!html.includes("<b>x</b>"), "queue names are escaped");
    const live = await f.request("/queues", { headers: { "X-Queuectl-Live": "1" } });
    const region = await live.text();
    assert.ok(region.includes("data-poll") && !region.includes("<html"), "only the live region");

    const form = await f.request("/api/queues/mail/concurrency", {
      method: "POST",
      body: new URLSearchParams({ concurrency: "0", return: "/queues" }),
      headers: { Origin: BASE, Accept: "text/html" },
    });
    assert.equal(form.status, 303);
    assert.equal(form.headers.get("location"), "/queues");
    const mail = (await f.store.queueList()).find((q) => q.name === "mail");
    assert.equal(mail?.concurrency, 0);
  },
);

storeTest(
  "POST /api/queues/:name/rate and /group-concurrency set flow control; the page has their forms",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    const rated = await f.request("/api/queues/api/rate", json({ rate: "10/1s" }));
    assert.equal(rated.status, 200);
    assert.deepEqual((await rated.json()).rate, { limit: 10, period_ms: 1000, used: 0 });
    const grouped = await f.request(
      "/api/queues/api/group-concurrency",
      json({ group_concurrency: 2 }),
    );
    assert.equal(grouped.status, 200);
    assert.equal((await grouped.json()).group_concurrency, 2);
    const [q] = await f.store.queueList();
    assert.deepEqual([q?.rate?.limit, q?.rate?.period_ms, q?.group_concurrency], [10, 1000, 2]);

    const html = await (await f.request("/queues", { headers: { Accept: "text/html" } })).text();
    assert.match(html, /action="\/api\/queues\/api\/rate"/);
    assert.match(html, /name="rate"[^>]*value="10\/1s"/);
    assert.match(html, /action="\/api\/queues\/api\/group-concurrency"/);
    assert.match(html, /name="group_concurrency"[^>]*value="2"/);

    // A plain form: an empty rate turns it off, then a redirect back.
    const form = await f.request("/api/queues/api/rate", {
      method: "POST",
      body: new URLSearchParams({ rate: "", return: "/queues" }),
      headers: { Origin: BASE, Accept: "text/html" },
    });
    assert.equal(form.status, 303);
    assert.equal(form.headers.get("location"), "/queues");
    const off = await f.request(
      "/api/queues/api/group-concurrency",
      json({ group_concurrency: 0 }),
    );
    assert.equal((await off.json()).group_concurrency, 0);
    const [after] = await f.store.queueList();
    assert.deepEqual([after?.rate, after?.group_concurrency], [null, 0]);
    assert.ok(f.wakes >= 4, "each change wakes the dashboard's workers");
  },
);

storeTest(
  "flow control actions refuse bad input with 400 and follow the write rules",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    const bad: [string, RequestInit][] = [
      ["/api/queues/api/rate", json({ rate: "10" })],
      ["/api/queues/api/rate", json({ rate: "0/1s" })],
      ["/api/queues/api/rate", json({})],
      ["/api/queues/api/group-concurrency", json({ group_concurrency: -1 })],
      ["/api/queues/api/group-concurrency", json({ group_concurrency: "x" })],
      ["/api/queues/bad%20name/rate", json({ rate: "1/1s" })],
    ];
    for (const [path, init] of bad) {
      const res = await f.request(path, init);
      assert.equal(res.status, 400, path);
      assert.match((await res.json()).error, /Invalid/);
    }
    const noToken = await f.request("/api/queues/api/rate", {
      ...json({ rate: "1/1s" }),
      auth: false,
    });
    assert.equal(noToken.status, 401);
    await noToken.body?.cancel();
    const foreign = await f.request("/api/queues/api/group-concurrency", {
      ...json({ group_concurrency: 1 }),
      headers: { "Content-Type": "application/json", Origin: "http://evil.example" },
    });
    assert.equal(foreign.status, 403);
    await foreign.body?.cancel();
    assert.deepEqual(await f.store.queueList(), []);
  },
);
