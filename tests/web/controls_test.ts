/**
 * The operator controls on the dashboard (README "Operating a queue"): the
 * filter bar's count and actions, the API's actions by filter (with
 * `dry_run`), hold, release and edit, all behind the token and Origin checks.
 */
import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { storeTest } from "../_helpers.ts";
import { addJobs, appFixture, BASE } from "./_fixtures.ts";

const json = (path: string, body: unknown): [string, RequestInit] => [path, {
  method: "POST",
  body: JSON.stringify(body),
  headers: { "Content-Type": "application/json", Accept: "application/json" },
}];

async function tagged(f: Awaited<ReturnType<typeof appFixture>>, n: number, tags: string[]) {
  await f.store.jobInsertMany({
    jobs: Array.from({ length: n }, (_, i) => ({
      id: `${tags[0]}-${i}`,
      command: "true",
      queue: "default",
      priority: 0,
      max_retries: null,
      timeout: null,
      env: null,
      cwd: null,
      run_at: f.store.now(),
      after: null,
      key: null,
      retry_on: null,
      tags,
    })),
    now: f.store.now(),
  });
}

storeTest("the jobs page's filter bar shows the matching count and each action's", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await tagged(f, 3, ["batch7"]);
  await tagged(f, 2, ["other"]);
  const page = await (await f.request("/jobs?tag=batch7")).text();
  assert.match(page, /<strong data-matching="true">3<\/strong> jobs match this filter/);
  assert.match(page, /Cancel all matching \(3\)/);
  assert.match(page, /data-confirm="Cancel 3 matching jobs\?"/);
  assert.match(page, /Retry all matching \(0\)/);
  assert.match(page, /<input type="hidden" name="tag" value="batch7"/);
  const plain = await (await f.request("/jobs")).text();
  assert.doesNotMatch(plain, /match this filter/, "no actions without a filter");
});

storeTest(
  "held jobs show in the Held tab and the queues page; the scheduled view has no actions",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await tagged(f, 2, ["batch7"]);
    await f.store.jobHold({ ids: ["batch7-0"], now: f.store.now() });
    const held = await (await f.request("/jobs?state=held")).text();
    assert.match(held, /<a href="\/jobs\?state=held" aria-current="page">/);
    assert.match(held, /<strong data-matching="true">1<\/strong> job match this filter/);
    assert.match(held, /Release \(1\)/);
    const queues = await (await f.request("/queues")).text();
    assert.match(queues, /href="\/jobs\?state=held&amp;queue=default">1<\/a>/);
    // "Not due yet" is no job state: the scheduled view filters but offers no action by filter.
    const scheduled = await f.request("/jobs?state=scheduled&tag=batch7");
    assert.equal(scheduled.status, 200);
    assert.doesNotMatch(await scheduled.text(), /match this filter/);
  },
);

storeTest(
  "POST /api/jobs/bulk/cancel counts with dry_run, then cancels exactly the matching jobs",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await tagged(f, 4, ["batch7"]);
    await tagged(f, 2, ["other"]);
    const dry = await f.request(
      ...json("/api/jobs/bulk/cancel", { tags: ["batch7"], dry_run: true }),
    );
    const counted = await dry.json();
    assert.equal(counted.count, 4);
    assert.equal(counted.ids.length, 4);
    assert.equal((await f.store.jobCountByState()).pending, 6, "a dry run changes nothing");
    const res = await f.request(
      ...json("/api/jobs/bulk/cancel", { tags: ["batch7"], state: "pending" }),
    );
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual([body.count, body.summary], [4, "cancelled 4 jobs"]);
    const counts = await f.store.jobCountByState();
    assert.deepEqual([counts.pending, counts.cancelled], [2, 4]);
  },
);

storeTest(
  "POST /api/jobs/bulk refuses no filter, a bad action, and a foreign Origin",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await tagged(f, 1, ["t"]);
    const none = await f.request(...json("/api/jobs/bulk/cancel", {}));
    assert.equal(none.status, 400);
    assert.match((await none.json()).error, /Nothing to cancel: no filter/);
    const bad = await f.request(...json("/api/jobs/bulk/explode", { tags: ["t"] }));
    assert.equal(bad.status, 400);
    const [path, init] = json("/api/jobs/bulk/cancel", { all: true });
    const foreign = await f.request(path, {
      ...init,
      headers: { ...init.headers as Record<string, string>, Origin: "http://evil.example" },
    });
    assert.equal(foreign.status, 403);
    const anonymous = await f.request(path, { ...init, auth: false });
    assert.equal(anonymous.status, 401);
    assert.equal((await f.store.jobCountByState()).pending, 1, "nothing changed");
  },
);

storeTest("a plain form asks to confirm with the count, then acts and goes back", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await tagged(f, 2, ["t"]);
  const form = (extra: Record<string, string>) => ({
    method: "POST",
    body: new URLSearchParams({ tag: "t", return: "/jobs?tag=t", ...extra }),
    headers: { Origin: BASE },
  });
  const ask = await f.request("/api/jobs/bulk/hold", form({}));
  assert.equal(ask.status, 200);
  const page = await ask.text();
  assert.match(page, /Hold 2 matching jobs\?/);
  assert.match(page, /name="confirmed" value="1"/);
  assert.equal((await f.store.jobCountByState()).held, 0);
  const done = await f.request("/api/jobs/bulk/hold", form({ confirmed: "1" }));
  assert.equal(done.status, 303);
  assert.equal(done.headers.get("location"), "/jobs?tag=t");
  assert.equal((await f.store.jobCountByState()).held, 2);
});

storeTest("a job's page holds, releases and edits a waiting job", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "e" });
  let page = await (await f.request("/jobs/e")).text();
  assert.match(page, /action="\/api\/jobs\/e\/hold"/);
  assert.match(page, /action="\/api\/jobs\/e\/edit"/);
  const held: Job = await (await f.request(...json("/api/jobs/e/hold", {}))).json();
  assert.equal(held.state, "held");
  page = await (await f.request("/jobs/e")).text();
  assert.match(page, /action="\/api\/jobs\/e\/release"/);
  const edited: Job = await (await f.request(...json("/api/jobs/e/edit", {
    priority: 9,
    tags: ["x", "y"],
    env: { A: "1" },
  }))).json();
  assert.deepEqual([edited.priority, edited.tags, edited.env], [9, ["x", "y"], { A: "1" }]);
  const badEdit = await f.request(...json("/api/jobs/e/edit", { priority: "x" }));
  assert.equal(badEdit.status, 400);
  const released: Job = await (await f.request(...json("/api/jobs/e/release", {}))).json();
  assert.equal(released.state, "pending");
});

storeTest("editing a running job is refused with 409, naming its state", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "r" });
  await f.store.jobClaim({
    workerId: "w",
    queues: null,
    limit: 1,
    now: f.store.now(),
    leaseMs: 30_000,
  });
  const res = await f.request(...json("/api/jobs/r/edit", { priority: 1 }));
  assert.equal(res.status, 409);
  assert.match((await res.json()).error, /Cannot edit job "r": job is processing/);
  const page = await (await f.request("/jobs/r")).text();
  assert.doesNotMatch(page, /Edit this job/);
});

storeTest(
  "the DLQ page filters dead jobs and offers retry and delete of all matching",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await tagged(f, 2, ["t"]);
    await f.request(...json("/api/jobs/bulk/cancel", { all: true }));
    const page = await (await f.request("/dlq?tag=t")).text();
    assert.match(page, /Retry all matching \(0\)/);
    assert.match(page, /Delete all matching \(0\)/);
    assert.doesNotMatch(page, /Cancel all matching/);
  },
);
