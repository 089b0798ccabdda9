/**
 * The producer against a fake store: after a full claim it lends the free
 * slots to the completer's next write (`rideAlong`); a round meanwhile
 * leaves them alone (both ask one {@linkcode SlotCount}); a failed write gives them back and a round claims
 * them; a short ride (the queue ran dry) makes a round read the next due time.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/config.ts";
import type { ClaimedJob, ClaimParams } from "../../lib/storage/storage.ts";
import { Producer, type ProducerOptions } from "../../workers/producer.ts";
import { Settings } from "../../workers/settings.ts";
import { SlotCount } from "../../workers/slot_count.ts";
import { waitFor } from "../_helpers.ts";

const job = (id: string) => ({ id, attempt: 1 }) as unknown as ClaimedJob;

async function setup(waiting: number) {
  let queue = waiting;
  let next = 0;
  const claims: number[] = [];
  let nextDueReads = 0;
  const store = {
    now: () => 1_000_000,
    configGetAll: () => Promise.resolve(defaultConfig()),
    jobNextDueAt: () => {
      nextDueReads++;
      return Promise.resolve(queue > 0 ? 0 : null);
    },
    jobClaim: (params: ClaimParams) => {
      claims.push(params.limit);
      const n = Math.min(params.limit, queue);
      queue -= n;
      return Promise.resolve(Array.from({ length: n }, () => job(`j${++next}`)));
    },
  };
  const slots = new SlotCount(4);
  const handed: string[] = [];
  const options: ProducerOptions = {
    store,
    workerId: "w1",
    queues: null,
    settings: await Settings.load(store),
    slotCount: slots,
    mayClaim: () => true,
    claimed: (jobs) => {
      for (const _ of jobs) slots.taken();
      handed.push(...jobs.map((j) => j.id));
    },
    onError: (message) => assert.fail(message),
  };
  const producer = new Producer(options);
  /** What the completer's write does with a ride: claims from the same fake queue. */
  const writeWith = (params: ClaimParams) => store.jobClaim(params);
  /** `n` running jobs ended: their slots are free. */
  const ended = (n: number) => {
    for (let i = 0; i < n; i++) slots.freed();
  };
  return {
    producer,
    ended,
    handed,
    claims,
    writeWith,
    nextDueReads: () => nextDueReads,
    setQueue: (n: number) => (queue = n),
  };
}

Deno.test("no ride before a full claim: an idle worker reads the next due time first", async () => {
  const t = await setup(0);
  assert.equal(await t.producer.rideAlong(), null);
  await t.producer.wake();
  assert.equal(t.nextDueReads(), 1);
  assert.deepEqual(t.claims, []);
  await t.producer.stop();
});

Deno.test("after a full claim, freed slots ride with the write; a round meanwhile leaves them", async () => {
  const t = await setup(10);
  await t.producer.wake();
  assert.deepEqual(t.handed, ["j1", "j2", "j3", "j4"], "a full claim");
  t.ended(2);
  const ride = await t.producer.rideAlong();
  assert.ok(ride, "a ride after a full claim");
  assert.equal(ride.params.limit, 2);
  // A round while the ride is out finds no free slot of its own.
  await t.producer.wake();
  assert.deepEqual(t.claims, [4], "the round claimed nothing");
  assert.equal(t.producer.busy, true, "a ride in flight keeps the producer busy");
  ride.claimed(await t.writeWith(ride.params));
  assert.deepEqual(t.handed.slice(4), ["j5", "j6"]);
  assert.equal(t.producer.busy, false);
  await t.producer.stop();
});

Deno.test("a failed write gives the slots back and a round claims them", async () => {
  const t = await setup(10);
  await t.producer.wake();
  t.ended(3);
  const ride = await t.producer.rideAlong();
  assert.equal(ride?.params.limit, 3);
  ride!.failed();
  await waitFor(() => t.handed.length === 7, { message: "a round to claim the three slots" });
  assert.deepEqual(t.claims, [4, 3]);
  await t.producer.stop();
});

Deno.test("a short ride makes a round read the next due time; stop waits for a ride", async () => {
  const t = await setup(4);
  await t.producer.wake();
  t.ended(2);
  t.setQueue(1);
  const ride = await t.producer.rideAlong();
  assert.ok(ride);
  let stopped = false;
  const stopping = t.producer.stop().then(() => (stopped = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(stopped, false, "stop waits for the ride in flight");
  assert.equal(await t.producer.rideAlong(), null, "no new ride while stopping");
  ride.claimed(await t.writeWith(ride.params));
  await stopping;
  assert.deepEqual(t.handed.slice(4), ["j5"], "the ride's job was handed over");

  const u = await setup(4);
  await u.producer.wake();
  u.ended(2);
  u.setQueue(1);
  const short = await u.producer.rideAlong();
  const reads = u.nextDueReads();
  short!.claimed(await u.writeWith(short!.params));
  await waitFor(() => u.nextDueReads() > reads, { message: "a round to read the next due time" });
  await u.producer.stop();
});
