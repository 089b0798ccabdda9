/**
 * The one count of free slots a claim may take: free slots less those the
 * completer's next write claims for (not while a write is out) and those
 * lent to riding claims.
 */
import assert from "node:assert/strict";
import { SlotCount } from "../../workers/slot_count.ts";

Deno.test("a claim may take the free slots that no other claim is coming for", () => {
  const count = new SlotCount(4);
  assert.equal(count.claimable, 4);
  for (let i = 0; i < 4; i++) count.taken();
  assert.equal(count.running, 4);
  assert.equal(count.claimable, 0);

  // Three jobs end; their finishes wait for the next write, which claims for them.
  count.freed();
  count.freed();
  count.freed();
  count.finishesWaiting(3);
  assert.equal(count.running, 1);
  assert.equal(count.claimable, 0);
  assert.equal(count.freedSlotsRide, true);

  // The write takes them and lends their slots to its riding claim.
  count.finishesWaiting(0);
  assert.equal(count.claimable, 3);
  count.lend(3);
  count.writing(true);
  assert.equal(count.claimable, 0);

  // A finish while that write is out: its slot goes to a round at once.
  count.freed();
  count.finishesWaiting(1);
  assert.equal(count.freedSlotsRide, false);
  assert.equal(count.claimable, 1);

  // The write is answered: the waiting finish's slot is the next write's again.
  count.writing(false);
  count.giveBack(3);
  assert.equal(count.claimable, 3);
  count.finishesWaiting(0);
  assert.equal(count.claimable, 4);
});

Deno.test("the count never goes below zero when a round refilled a slot a finish still holds", () => {
  const count = new SlotCount(1);
  count.taken();
  count.freed();
  count.writing(true);
  count.finishesWaiting(1); // finished while a write was out
  count.taken(); // a round refilled the slot
  count.writing(false);
  assert.equal(count.claimable, 0);
});
