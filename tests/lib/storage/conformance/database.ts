/**
 * Storage conformance cases for the database as a whole: location, clock,
 * size, vacuum and backup. Every store runs them through
 * `storageConformance()` (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import { UsageError } from "../../../../lib/errors.ts";
import { newJob, T0 } from "../_fixtures.ts";
import { assertRejects } from "./_assert.ts";
import { allIds } from "./_drive.ts";
import type { ConformanceTest } from "./_harness.ts";

/** Registers the cases for the database as a whole. */
export function databaseConformance(test: ConformanceTest): void {
  // --- location, now ---

  test("location says where the data lives, without a password", (store) => {
    assert.equal(typeof store.location, "string");
    assert.ok(store.location.length > 0);
    if (URL.canParse(store.location)) {
      assert.equal(new URL(store.location).password, "", `a password in "${store.location}"`);
    }
    assert.doesNotMatch(store.location, /password=/i);
  });

  test(
    "now() is the store's clock, close to this machine's, on every connection",
    async (store, db) => {
      await using other = await db.open();
      for (const connection of [store, other]) {
        const before = Date.now();
        const now = connection.now();
        const after = Date.now();
        assert.ok(Number.isSafeInteger(now), `now() is whole milliseconds: ${now}`);
        assert.ok(
          now >= before - 5000 && now <= after + 5000,
          `now() is ${now - before} ms off the local clock`,
        );
      }
    },
  );

  // --- storeSize, storeVacuum, storeBackup ---

  test("storeVacuum() reports sizes before and after; storeSize() is positive", async (store) => {
    await store.jobInsertMany({
      jobs: Array.from({ length: 200 }, (_, i) => newJob(`v${i}`, { command: "x".repeat(500) })),
      now: T0,
    });
    assert.ok((await store.storeSize()) > 0);
    await store.jobPrune({ before: {} });
    const { before, after } = await store.storeVacuum();
    assert.ok(before > 0 && after > 0, `sizes ${before} and ${after}`);
    assert.equal((await allIds(store)).length, 200, "nothing lost");
  });

  test("storeBackup() refuses an existing file as bad input", async (store) => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/taken.db`, "keep me");
      await assertRejects(() => store.storeBackup({ path: `${dir}/taken.db` }), UsageError);
      assert.equal(await Deno.readTextFile(`${dir}/taken.db`), "keep me", "left as it was");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
