/**
 * Webhook delivery end to end (README "Webhooks"): a receiver on 127.0.0.1
 * that fails the first deliveries gets every final-state event in seq
 * order with a valid signature, also when the delivering worker is
 * SIGKILLed and another takes over.
 */
import assert from "node:assert/strict";
import type { QueueEvent } from "../../lib/event.ts";
import { signature } from "../../workers/webhooks.ts";
import { tempDir, waitFor } from "../_helpers.ts";
import { configSet, enqueue, startWorker, status } from "./_worker_process.ts";

const SECRET = "s3cret";

/** A receiver that answers 500 to the first `failFirst` requests, then 200. */
function receiver(failFirst: number) {
  const got: QueueEvent[] = [];
  let requests = 0;
  let badSignatures = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    requests++;
    if (requests <= failFirst) return new Response("not yet", { status: 500 });
    if (req.headers.get("x-queuectl-signature") !== await signature(SECRET, body)) {
      badSignatures++;
      return new Response("bad signature", { status: 401 });
    }
    got.push(JSON.parse(body));
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    got,
    requests: () => requests,
    badSignatures: () => badSignatures,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("webhooks deliver every final-state event in order, signed, through failures and a SIGKILL", async () => {
  await using dir = await tempDir();
  const db = `${dir.path}/q.db`;
  await using hook = receiver(3);
  await configSet(db, "webhook_url", hook.url);
  await configSet(db, "webhook_secret", SECRET);
  await configSet(db, "max_retries", 0);
  const JOBS = 30;
  for (let i = 0; i < JOBS; i++) {
    await enqueue(db, { id: `j${i}`, command: i % 5 === 0 ? "exit 2" : "true" });
  }
  const first = await startWorker(db, ["--count", "2"]);
  // Kill the delivering worker while deliveries are under way (after the first failures).
  await waitFor(() => hook.got.length >= 3, { timeoutMs: 30_000 });
  first.kill("SIGKILL");
  await first.status;
  await using second = await startWorker(db, ["--count", "2"]);
  await waitFor(async () => {
    const s = await status(db);
    return s.counts.completed + s.counts.dead + s.counts.processing + s.counts.pending === JOBS &&
      new Set(hook.got.map((e) => e.job)).size >= JOBS;
  }, { timeoutMs: 90_000, intervalMs: 200 });
  await second.stop();

  assert.equal(hook.badSignatures(), 0);
  // At least once: a delivery may repeat, but first arrivals are in seq order.
  const firsts: QueueEvent[] = [];
  const seqs = new Set<number>();
  for (const event of hook.got) {
    if (seqs.has(event.seq)) continue;
    seqs.add(event.seq);
    firsts.push(event);
  }
  for (let i = 1; i < firsts.length; i++) assert.ok(firsts[i]!.seq > firsts[i - 1]!.seq);
  const jobs = new Set(firsts.map((e) => e.job));
  assert.equal(jobs.size, JOBS, "every job's final event arrived");
  assert.ok(firsts.every((e) => ["completed", "dead", "failed", "cancelled"].includes(e.type)));
  assert.equal(firsts.filter((e) => e.type === "dead").length, JOBS / 5);
  const lag = (await status(db)).webhook;
  assert.ok(lag, "status shows webhook delivery");
});
