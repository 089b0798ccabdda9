/** `/api/log` and `/api/log/stream`: the event log over HTTP (README "Events"). */
import assert from "node:assert/strict";
import type { QueueEvent } from "../../lib/event.ts";
import { storeTest } from "../_helpers.ts";
import { addJobs, appFixture, sseReader } from "./_fixtures.ts";

storeTest("GET /api/log pages the event log with filters; a bad type is 400", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "a" }, { id: "b", queue: "mail" });
  const all = await (await f.request("/api/log")).json() as {
    events: QueueEvent[];
    through: number;
    latest: number;
  };
  assert.deepEqual(all.events.map((e) => [e.job, e.type]), [["a", "enqueued"], ["b", "enqueued"]]);
  assert.equal(all.through, all.latest);
  const mail = await (await f.request("/api/log?queue=mail")).json() as { events: QueueEvent[] };
  assert.deepEqual(mail.events.map((e) => e.job), ["b"]);
  const after = await (await f.request(`/api/log?since=${all.events[0]!.seq}`)).json() as {
    events: QueueEvent[];
  };
  assert.deepEqual(after.events.map((e) => e.job), ["b"]);
  assert.equal((await f.request("/api/log?type=nope")).status, 400);
  assert.equal((await f.request("/api/log?since=-1")).status, 400);
});

storeTest("GET /api/log/stream sends each event as it commits, its seq as the id", async (tmp) => {
  await using f = await appFixture({}, tmp);
  await addJobs(f.store, { id: "a" });
  const controller = new AbortController();
  const res = await f.request("/api/log/stream?since=0", { signal: controller.signal });
  assert.equal(res.status, 200);
  const sse = sseReader(res);
  try {
    const first = await sse.next();
    assert.equal(first.event, "job");
    assert.equal((JSON.parse(first.data) as QueueEvent).job, "a");
    await addJobs(f.store, { id: "b" });
    const second = JSON.parse((await sse.next(5000)).data) as QueueEvent;
    assert.equal(second.job, "b");
  } finally {
    controller.abort();
    await res.body?.cancel().catch(() => {});
  }
});
