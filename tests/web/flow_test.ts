/**
 * Job flow on the dashboard (README.md, "Job flow"): a job's dependencies,
 * dependents, key and retry_on on its page; `on_conflict` in
 * `POST /api/jobs`; the blocked state in the overview, the jobs filter and
 * `/metrics`.
 */
import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { storeTest } from "../_helpers.ts";
import { addJobs, appFixture, runJob } from "./_fixtures.ts";

const post = (path: string, body: unknown): [string, RequestInit] => [path, {
  method: "POST",
  body: JSON.stringify(body),
  headers: { "Content-Type": "application/json" },
}];

storeTest(
  "a job's page shows its dependencies with their states, its dependents, key and retry_on",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addJobs(f.store, { id: "up1" }, { id: "up2" });
    await runJob(f.store, "up1", { ok: true });
    await addJobs(f.store, {
      id: "mid",
      after: ["up1", "up2"],
      key: "nightly-<b>",
      retry_on: [75, "timeout"],
    });
    await addJobs(f.store, { id: "down", after: ["mid"] });

    const page = await (await f.request("/jobs/mid")).text();
    assert.match(page, /<h2>Flow<\/h2>/);
    assert.match(
      page,
      /<a href="\/jobs\/up1" class="id">up1<\/a> <span class="badge state-completed">completed<\/span>/,
    );
    assert.match(
      page,
      /<a href="\/jobs\/up2" class="id">up2<\/a> <span class="badge state-pending">pending<\/span>/,
    );
    assert.match(
      page,
      /<a href="\/jobs\/down" class="id">down<\/a> <span class="badge state-blocked">blocked<\/span>/,
    );
    assert.match(page, /nightly-&lt;b&gt;/, "the key is shown, escaped");
    assert.match(page, /<dd>75, timeout<\/dd>/);
    assert.match(page, /<span class="badge state-blocked">blocked<\/span>/);
    assert.match(page, /action="\/api\/jobs\/mid\/cancel"/, "a blocked job can be cancelled");
    assert.doesNotMatch(page, /action="\/api\/jobs\/mid\/retry"/);

    const plain = await (await f.request("/jobs/up2")).text();
    assert.match(plain, /<h2>Flow<\/h2>/, "a job others wait for shows them");
    const alone = await (await f.request("/jobs/down")).text();
    assert.match(alone, /no dependents/);
  },
);

storeTest("a cancelled job's page offers Retry", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "x" });
  await f.store.jobCancel({ ids: ["x"], now: Date.now() });
  const page = await (await f.request("/jobs/x")).text();
  assert.match(page, /action="\/api\/jobs\/x\/retry"/);
  const retried = await f.request("/api/jobs/x/retry", { method: "POST" });
  assert.equal(retried.status, 200);
  assert.equal((await retried.json() as Job).state, "pending");
});

storeTest(
  "POST /api/jobs keeps a job whose key is active: 200 with the job holding it",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    const first = await f.request(...post("/api/jobs", { id: "one", command: "true", key: "k" }));
    assert.equal(first.status, 201);
    await first.body?.cancel();
    const kept = await f.request(...post("/api/jobs", { id: "two", command: "true", key: "k" }));
    assert.equal(kept.status, 200);
    assert.equal((await kept.json() as Job).id, "one");
    assert.equal(await f.store.jobGet({ id: "two" }), null);

    const batch = await f.request(...post("/api/jobs", [
      { id: "three", command: "true", key: "k" },
      { id: "four", command: "true" },
    ]));
    assert.equal(batch.status, 201);
    assert.deepEqual((await batch.json() as Job[]).map((j) => j.id), ["four"]);
  },
);

storeTest("POST /api/jobs?on_conflict=replace cancels the holder; fail is 409", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "old", key: "k" });
  const replaced = await f.request(
    ...post("/api/jobs?on_conflict=replace", { id: "new", command: "true", key: "k" }),
  );
  assert.equal(replaced.status, 201);
  assert.equal((await replaced.json() as Job).id, "new");
  const old = await f.store.jobGet({ id: "old" });
  assert.equal(old?.state, "cancelled");
  assert.equal(old?.last_error, "replaced by new");

  const failed = await f.request(
    ...post("/api/jobs?on_conflict=fail", { id: "newer", command: "true", key: "k" }),
  );
  assert.equal(failed.status, 409);
  assert.match((await failed.json()).error, /key "k" is held by job "new"/);

  const bad = await f.request(...post("/api/jobs?on_conflict=overwrite", { command: "true" }));
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /^Invalid on_conflict "overwrite"; use one of: keep/);
  assert.equal((await f.store.jobCountByState()).pending, 1, "nothing else was added");
});

storeTest("the add-job form takes on_conflict as a field", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "old", key: "k" });
  const res = await f.request("/api/jobs", {
    method: "POST",
    body: new URLSearchParams({ id: "new", command: "true", key: "k", on_conflict: "replace" }),
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  assert.equal(res.status, 303);
  assert.equal((await f.store.jobGet({ id: "old" }))?.last_error, "replaced by new");
});

storeTest(
  "POST /api/jobs refuses after naming an unknown job (404) or a dead one (409)",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addJobs(f.store, { id: "gone", max_retries: 0 });
    await runJob(f.store, "gone", { ok: false });
    const unknown = await f.request(...post("/api/jobs", { command: "true", after: "nope" }));
    assert.equal(unknown.status, 404);
    assert.match((await unknown.json()).error, /dependency "nope" not found/);
    const dead = await f.request(...post("/api/jobs", { command: "true", after: ["gone"] }));
    assert.equal(dead.status, 409);
    assert.match((await dead.json()).error, /dependency "gone" is dead/);
    const shape = await f.request(...post("/api/jobs", { command: "true", after: 5 }));
    assert.equal(shape.status, 400);
    await shape.body?.cancel();
  },
);

storeTest(
  "blocked jobs are counted on the overview, filtered on /jobs and in /metrics",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addJobs(f.store, { id: "p1" });
    await addJobs(f.store, { id: "b1", after: ["p1"] }, { id: "b2", after: ["p1"] });

    const overview = await (await f.request("/")).text();
    assert.match(overview, /<a class="count-card state-blocked" href="\/jobs\?state=blocked">/);
    assert.match(overview, /data-count="blocked">2</);

    const jobs = await (await f.request("/jobs?state=blocked")).text();
    assert.match(jobs, /<option value="blocked" selected>blocked<\/option>/);
    assert.match(jobs, /data-job-id="b1"/);
    assert.match(jobs, /data-job-id="b2"/);
    assert.doesNotMatch(jobs, /data-job-id="p1"/);

    const metrics = await (await f.request("/metrics")).text();
    assert.match(metrics, /^queuectl_jobs\{state="blocked"\} 2$/m);
    assert.match(metrics, /^queuectl_jobs\{state="pending"\} 1$/m);

    const stats = await (await f.request("/api/stats")).json();
    assert.equal(stats.counts.blocked, 2);
  },
);

storeTest("the add-job form takes after as ids separated by commas, and a key", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "a" }, { id: "b" });
  const form = (fields: Record<string, string>) => ({
    method: "POST",
    body: new URLSearchParams(fields),
    // As the page's script posts it: a form body, JSON back.
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Accept: "application/json",
    },
  });
  const added = await f.request(
    "/api/jobs",
    form({ id: "c", command: "true", after: "a, b", key: "k" }),
  );
  assert.equal(added.status, 201);
  const job = await added.json() as Job;
  assert.equal(job.state, "blocked");
  assert.deepEqual(job.after, ["a", "b"]);
  assert.equal(job.key, "k");
  const kept = await f.request("/api/jobs", form({ id: "d", command: "true", key: "k" }));
  assert.equal(kept.status, 200, "kept out: the holder, nothing created");
  assert.equal((await kept.json() as Job).id, "c");
  const overview = await (await f.request("/")).text();
  assert.match(overview, /<input name="after"/);
  assert.match(overview, /<input name="key"/);
});
