/**
 * The event log's cursor on PostgreSQL is gap-free (DESIGN.md "Why the
 * cursor is gap-free"): writers that commit out of order on purpose, and
 * many writers holding transactions open at random while a reader follows.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import type { QueueEvent } from "../../../lib/event.ts";
import { PostgresStorage } from "../../../lib/storage/postgres/store.ts";
import { pgTest, type TestPostgres } from "../../_postgres.ts";

/** A fresh schema with a store open on it and a raw driver for hand-made transactions. */
async function fixture(server: TestPostgres) {
  const url = server.newUrl();
  const schema = new URL(url).searchParams.get("schema")!;
  const store = await PostgresStorage.open(url);
  const base = new URL(url);
  base.searchParams.delete("schema");
  const raw = postgres(base.href, {
    max: 20,
    onnotice: () => {},
    connection: { search_path: schema },
  });
  return {
    store,
    raw,
    async [Symbol.asyncDispose]() {
      await store.close();
      await raw.end();
      await server.admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

const INSERT_JOB = `INSERT INTO jobs (id, command, state, queue, priority, created_at, updated_at,
  next_run_at) VALUES ($1, 'true', 'pending', 'default', 0, 1, 1, 1)`;

async function readAll(store: PostgresStorage, after: number) {
  const page = await store.eventList({ after, limit: 10_000 });
  return { events: page.events, through: page.through };
}

/**
 * Reads after `after` until `count` events are published: a transaction
 * open anywhere on the server (another test's, under --parallel) holds
 * publication back until it ends.
 */
async function readCount(store: PostgresStorage, after: number, count: number) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const page = await readAll(store, after);
    if (page.events.length >= count || Date.now() > deadline) return page;
    await new Promise((r) => setTimeout(r, 20));
  }
}

pgTest(
  "PostgreSQL events: an event committed after a later one is never skipped",
  async (server) => {
    await using f = await fixture(server);
    const a = await f.raw.reserve();
    const b = await f.raw.reserve();
    try {
      // A writes first (the lower id), B writes second and commits first.
      await a.unsafe("BEGIN");
      await a.unsafe(INSERT_JOB, ["a"]);
      await b.unsafe("BEGIN");
      await b.unsafe(INSERT_JOB, ["b"]);
      await b.unsafe("COMMIT");
      const first = await readAll(f.store, 0);
      assert.deepEqual(first.events.map((e) => e.job), [], "B waits while A may still commit");
      await a.unsafe("COMMIT");
      const second = await readCount(f.store, first.through, 2);
      assert.deepEqual(second.events.map((e) => e.job), ["a", "b"]);
      assert.ok(second.events[0]!.seq > first.through);

      // The other way round: B's transaction is older but writes later.
      await b.unsafe("BEGIN");
      await b.unsafe(INSERT_JOB, ["c"]);
      await a.unsafe("BEGIN");
      await a.unsafe(INSERT_JOB, ["d"]);
      await a.unsafe("COMMIT");
      const third = await readAll(f.store, second.through);
      assert.deepEqual(third.events.map((e) => e.job), []);
      await b.unsafe("COMMIT");
      const fourth = await readCount(f.store, third.through, 2);
      assert.deepEqual(fourth.events.map((e) => e.job), ["c", "d"]);
      // Rolled back: never an event, never a gap.
      await a.unsafe("BEGIN");
      await a.unsafe(INSERT_JOB, ["e"]);
      await a.unsafe("ROLLBACK");
      const fifth = await readAll(f.store, fourth.through);
      assert.deepEqual(fifth.events, []);
      const all = await readAll(f.store, 0);
      assert.deepEqual(all.events.map((e) => e.seq), [1, 2, 3, 4], "numbers without holes");
    } finally {
      a.release();
      b.release();
    }
  },
);

pgTest(
  "PostgreSQL events: a follower sees every event of racing writers once, in order",
  async (server) => {
    await using f = await fixture(server);
    const WRITERS = 8;
    const EACH = 40;
    let writing = true;
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; i < EACH; i++) {
        await f.raw.begin(async (tx) => {
          await tx.unsafe(INSERT_JOB, [`w${w}-${i}`]);
          // Hold some transactions open so commits land out of insert order.
          if ((i + w) % 3 === 0) await tx.unsafe(`SELECT pg_sleep(${(w % 4) * 0.01})`);
        });
      }
    });
    const seen: QueueEvent[] = [];
    const reader = (async () => {
      let after = 0;
      while (writing || seen.length < WRITERS * EACH) {
        const page = await f.store.eventList({ after, limit: 37 });
        seen.push(...page.events);
        after = page.through;
        if (page.events.length === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await Promise.all(writers);
    writing = false;
    await reader;
    assert.equal(seen.length, WRITERS * EACH, "no event missed, none twice");
    assert.equal(new Set(seen.map((e) => e.job)).size, WRITERS * EACH);
    for (let i = 1; i < seen.length; i++) {
      assert.equal(seen[i]!.seq, seen[i - 1]!.seq + 1, "seqs follow one another");
    }
  },
);

pgTest(
  "PostgreSQL events: an update of any job field, flow control's too, is an edited event",
  async (server) => {
    await using f = await fixture(server);
    await f.raw.unsafe(INSERT_JOB, ["e"]);
    for (
      const set of [
        "grp = 'g'",
        "backoff_base = 3",
        "backoff_max = 60",
        "expires_at = 99",
        `after_any_ids = '["x"]'`,
        "unique_for = 10",
        "on_finish = 'true'",
        "command = 'false'",
      ]
    ) await f.raw.unsafe(`UPDATE jobs SET ${set}, updated_at = updated_at + 1 WHERE id = 'e'`);
    // Not an edit: a write of the same value, and the lease.
    await f.raw.unsafe("UPDATE jobs SET grp = 'g', lease_expires_at = 5 WHERE id = 'e'");
    const { events } = await readCount(f.store, 0, 9);
    assert.deepEqual(events.map((e) => e.type), ["enqueued", ...Array(8).fill("edited")]);
  },
);
