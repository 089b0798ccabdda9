/** A database that cannot be used gives one clear line and exit 1, never a stack trace. */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SCHEMA_VERSION } from "../../lib/storage/sqlite/schema.ts";
import { runCli, withTempDb } from "../_helpers.ts";
import { makeReadOnly, readOnlySkipReason } from "../lib/storage/_read_only.ts";
import { addJobs, assertOk, assertOneLineError, seededDb, snapshot } from "./_cli.ts";

/** 8 KiB of bytes from a fixed linear congruential sequence: "random", but the same every run. */
function noise(): Uint8Array {
  const bytes = new Uint8Array(8192);
  let x = 2026;
  for (let i = 0; i < bytes.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

Deno.test("status on a corrupt database file fails with one line and exit 1", async () => {
  await using tmp = await withTempDb();
  await Deno.writeFile(tmp.db, noise());
  assertOneLineError(
    await runCli(["status"], { db: tmp.db }),
    1,
    /not a queuectl database or is corrupt/,
    new RegExp(tmp.db.replaceAll(".", "\\.")),
  );
  assertOneLineError(
    await runCli(["enqueue", '{"command":"true"}'], { db: tmp.db }),
    1,
    /corrupt/,
  );
  assert.deepEqual(await Deno.readFile(tmp.db), noise(), "the file is left as it was");
});

Deno.test("status on a database from a newer schema version fails with one line and exit 1", async () => {
  await using tmp = await withTempDb();
  await addJobs(tmp.db, [{ id: "p1", state: "pending" }]);
  const db = new DatabaseSync(tmp.db);
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assertOneLineError(await runCli(["status"], { db: tmp.db }), 1, /newer/, /upgrade/);
  assertOneLineError(await runCli(["enqueue", '{"command":"true"}'], { db: tmp.db }), 1, /newer/);
  const check = new DatabaseSync(tmp.db);
  try {
    const row = check.prepare("SELECT count(*) AS n FROM jobs").get() as { n: number };
    assert.equal(row.n, 1);
    const version = check.prepare("PRAGMA user_version").get() as { user_version: number };
    assert.equal(version.user_version, SCHEMA_VERSION + 1, "the version is left as it was");
  } finally {
    check.close();
  }
});

Deno.test({
  name: "a read-only database refuses writes with one line and exit 1, and can still be read",
  ignore: readOnlySkipReason !== null,
  fn: async () => {
    await using env = await seededDb();
    const before = await snapshot(env.db);
    {
      await using readOnly = await makeReadOnly(env.db);
      assert.ok(readOnly, "the probe said read-only files work here");
      assertOneLineError(
        await runCli(["enqueue", '{"id":"new1","command":"true"}'], { db: env.db }),
        1,
        /is read-only/,
      );
      assertOneLineError(
        await runCli(["config", "set", "max_retries", "1"], { db: env.db }),
        1,
        /is read-only/,
      );
      assertOneLineError(await runCli(["cancel", "p1"], { db: env.db }), 1, /is read-only/);
      // Reading needs no write, so status still answers: a read-only copy can be inspected.
      const status = JSON.parse(assertOk(await runCli(["status", "--json"], { db: env.db })));
      assert.equal(status.counts.pending, 2);
      assert.deepEqual(await snapshot(env.db), before, "nothing changed");
    }
    await env.assertUnchanged();
  },
});

Deno.test("a database path under a regular file fails with one line and exit 1", async () => {
  await using tmp = await withTempDb();
  await Deno.writeTextFile(`${tmp.dir}/file`, "not a folder");
  assertOneLineError(
    await runCli(["status"], { db: `${tmp.dir}/file/queue.db` }),
    1,
    /Cannot create the folder of database/,
  );
});

Deno.test("a database path that is a folder fails with one line and exit 1", async () => {
  await using tmp = await withTempDb();
  assertOneLineError(await runCli(["status"], { db: tmp.dir }), 1, /open/);
});

Deno.test("a database locked past the busy timeout fails with one line and exit 1", async () => {
  await using env = await seededDb();
  const holder = new DatabaseSync(env.db);
  try {
    holder.exec("BEGIN IMMEDIATE");
    const result = await runCli(["enqueue", '{"id":"new1","command":"true"}'], { db: env.db });
    assertOneLineError(result, 1, /locked/);
  } finally {
    holder.exec("ROLLBACK");
    holder.close();
  }
  await env.assertUnchanged();
});
