/**
 * The supervisor's copy of the settings against a fake store: a wake-up
 * refreshes it and the claim that follows uses that read (one read, not
 * two); a copy older than a second is read again; a commit heard during a
 * read is read once more.
 */
import assert from "node:assert/strict";
import { type Config, defaultConfig } from "../../lib/config.ts";
import { Settings } from "../../workers/settings.ts";

function fakeStore() {
  let reads = 0;
  let value = 1;
  let gate: Promise<void> = Promise.resolve();
  let clock = 0;
  const store = {
    now: () => clock,
    async configGetAll(): Promise<Config> {
      reads++;
      const read = value;
      await gate;
      return { ...defaultConfig(), backoff_base: read };
    },
  };
  return {
    store,
    reads: () => reads,
    set: (v: number) => (value = v),
    at: (ms: number) => (clock = ms),
    hold: () => {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return release;
    },
  };
}

Deno.test("a refresh and the claim right after it share one read", async () => {
  const fake = fakeStore();
  const settings = await Settings.load(fake.store);
  assert.equal(fake.reads(), 1);
  fake.set(3);
  fake.at(60_000);
  settings.refresh();
  // Long after the load: on its own this copy would be read again.
  const config = await settings.fresh(60_000);
  assert.equal(config.backoff_base, 3, "the refreshed value");
  assert.equal(fake.reads(), 2, "the claim waited for the refresh instead of reading again");
  assert.equal((await settings.fresh(60_500)).backoff_base, 3);
  assert.equal(fake.reads(), 2, "a copy younger than a second is kept");
});

Deno.test("a copy older than a second is read again; a commit during a read reads once more", async () => {
  const fake = fakeStore();
  const settings = await Settings.load(fake.store);
  fake.set(5);
  assert.equal((await settings.fresh(1000)).backoff_base, 5);
  assert.equal(fake.reads(), 2);

  const release = fake.hold();
  settings.refresh(); // a read begins
  fake.set(7);
  settings.refresh(); // a commit heard while it reads
  release();
  const config = await settings.fresh(1500);
  assert.equal(config.backoff_base, 7, "the read after the second commit");
  assert.equal(fake.reads(), 4);
  assert.equal(settings.current.backoff_base, 7);
});
