/** ChangeFeed: one read for every listener, only changes pushed, nothing running when nobody listens. */
import assert from "node:assert/strict";
import { ChangeFeed } from "../../web/change_feed.ts";

function counterFeed(options: { intervalMs?: number; minGapMs?: number } = {}) {
  let value = 0;
  let reads = 0;
  let watching = 0;
  let fire: (() => void) | undefined;
  const feed = new ChangeFeed<number>(() => {
    reads++;
    return Promise.resolve({ value, key: String(value) });
  }, {
    ...options,
    watch: (onChange) => {
      watching++;
      fire = onChange;
      return { close: () => watching-- };
    },
  });
  return {
    feed,
    set: (v: number) => value = v,
    reads: () => reads,
    watching: () => watching,
    fire: () => fire?.(),
  };
}

Deno.test("ChangeFeed gives each new subscriber the current value, then only changes", async () => {
  const c = counterFeed({ intervalMs: 20, minGapMs: 0 });
  const a = c.feed.subscribe();
  assert.deepEqual(await a.next(1000), { type: "change", value: 0 });
  // Nothing changed: polls go on, nothing is pushed.
  assert.deepEqual(await a.next(100), { type: "idle" });
  assert.ok(c.reads() >= 2);
  const b = c.feed.subscribe();
  assert.deepEqual(await b.next(1000), { type: "change", value: 0 });
  c.set(1);
  assert.deepEqual(await a.next(1000), { type: "change", value: 1 });
  assert.deepEqual(await b.next(1000), { type: "change", value: 1 });
  a.close();
  b.close();
  assert.equal(c.feed.size, 0);
  await c.feed.close();
});

Deno.test("ChangeFeed reads at once when its watch fires, and stops the watch when idle", async () => {
  const c = counterFeed({ intervalMs: 60_000, minGapMs: 0 });
  const s = c.feed.subscribe();
  await s.next(1000);
  assert.equal(c.watching(), 1);
  c.set(7);
  const started = Date.now();
  c.fire();
  assert.deepEqual(await s.next(1000), { type: "change", value: 7 });
  assert.ok(Date.now() - started < 500);
  s.close();
  assert.equal(c.watching(), 0, "the watch is closed with the last subscriber");
  const reads = c.reads();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(c.reads(), reads, "no reads while nobody listens");
  await c.feed.close();
});

Deno.test("ChangeFeed keeps reads apart by minGapMs however often it is poked", async () => {
  const c = counterFeed({ intervalMs: 60_000, minGapMs: 50 });
  const s = c.feed.subscribe();
  await s.next(1000);
  const before = c.reads();
  const started = Date.now();
  while (Date.now() - started < 300) {
    c.feed.poke();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const reads = c.reads() - before;
  assert.ok(reads >= 2 && reads <= 8, `${reads} reads in 300 ms`);
  s.close();
  await c.feed.close();
});

Deno.test("ChangeFeed.close() ends waiting subscribers and refuses new ones", async () => {
  const c = counterFeed();
  const s = c.feed.subscribe();
  await s.next(1000);
  const waiting = s.next(10_000);
  await c.feed.close();
  assert.deepEqual(await waiting, { type: "closed" });
  const late = c.feed.subscribe();
  assert.ok(late.closed);
  assert.deepEqual(await late.next(10), { type: "closed" });
});
