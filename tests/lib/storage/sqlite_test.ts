import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { StorageError } from "../../../lib/errors.ts";
import { JOB_STATES } from "../../../lib/job.ts";
import { SCHEMA_VERSION } from "../../../lib/storage/sqlite/schema.ts";
import { SqliteStorage } from "../../../lib/storage/sqlite/store.ts";
import { waitFor, withTempDb } from "../../_helpers.ts";
import { death, failure, finishOf, LEASE, newJob, T0 } from "./_fixtures.ts";
import { makeReadOnly, readOnlySkipReason } from "./_read_only.ts";
import { SCHEMA_V1 } from "./_schema_v1.ts";
import { storageConformance } from "./conformance.ts";

// Every conformance test gets its own database file in one folder, removed at exit.
const root = await Deno.makeTempDir({ prefix: "queuectl-conformance-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
let made = 0;
storageConformance("SqliteStorage", () => {
  const path = `${root}/queue-${++made}.db`;
  return Promise.resolve({
    open: () => Promise.resolve(SqliteStorage.open(path)),
    async [Symbol.asyncDispose]() {
      for (const suffix of ["", "-wal", "-shm", ".wake"]) {
        await Deno.remove(`${path}${suffix}`).catch(() => {});
      }
    },
  });
});

/** Reads one PRAGMA straight from the file, bypassing the store. */
function pragma(path: string, name: string): unknown {
  const db = new DatabaseSync(path);
  try {
    return (db.prepare(`PRAGMA ${name}`).get() as Record<string, unknown>)[name];
  } finally {
    db.close();
  }
}

/** Asserts that `fn` fails with a StorageError (exit 1) on one line matching `pattern`. */
function assertStorageError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof StorageError, `expected a StorageError, got ${error}`);
    assert.equal(error.exitCode, 1);
    assert.match(error.message, pattern);
    assert.doesNotMatch(`${error.message}; ${error.hint}`, /\n/);
    return true;
  });
}

Deno.test("SqliteStorage.open() creates the schema at the current version in WAL mode", async () => {
  await using tmp = await withTempDb();
  const store = SqliteStorage.open(tmp.db);
  await store.close();
  assert.equal(pragma(tmp.db, "user_version"), SCHEMA_VERSION);
  assert.ok(SCHEMA_VERSION >= 1);
  assert.equal(pragma(tmp.db, "journal_mode"), "wal");
});

Deno.test("SqliteStorage.watchChanges() hears another store's commit, not its closing", async () => {
  // Every CLI command closes its store, which closes the wake file it wrote:
  // that woke every worker a second time for nothing.
  await using tmp = await withTempDb();
  await using store = SqliteStorage.open(tmp.db);
  let calls = 0;
  const watch = store.watchChanges(() => calls++);
  try {
    const other = SqliteStorage.open(tmp.db);
    await other.jobInsertMany({ jobs: [newJob("a")], now: T0 });
    await waitFor(() => calls > 0, { message: "the watch to hear the insert" });
    await other.close();
    const seen = calls;
    // Absence cannot be awaited: give a stray event the time a real one takes, several times over.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(calls, seen, "the other store's close woke the watch");
  } finally {
    watch.close();
  }
});

Deno.test("SqliteStorage.open() of a new database waits while another process holds it", async () => {
  // SQLite does not wait to switch a database to WAL while another process
  // writes it: two processes creating one database at once (the other one
  // migrating it) failed with "database is locked" until open() retried.
  await using tmp = await withTempDb();
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { DatabaseSync } from "node:sqlite";
       const db = new DatabaseSync(${JSON.stringify(tmp.db)});
       db.exec("BEGIN IMMEDIATE; CREATE TABLE held (x);");
       console.log("held");
       setTimeout(() => db.exec("COMMIT"), 300);`,
    ],
    stdout: "piped",
  }).spawn();
  const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assert.equal((await reader.read()).value?.trim(), "held");
  const store = SqliteStorage.open(tmp.db);
  await store.close();
  reader.releaseLock();
  await holder.stdout.cancel().catch(() => {});
  assert.equal((await holder.status).code, 0);
  assert.equal(pragma(tmp.db, "user_version"), SCHEMA_VERSION);
  assert.equal(pragma(tmp.db, "journal_mode"), "wal");
});

Deno.test("SqliteStorage.open() on an existing database keeps its jobs and counts", async () => {
  await using tmp = await withTempDb();
  {
    await using store = SqliteStorage.open(tmp.db);
    await store.jobInsertMany({ jobs: [newJob("a"), newJob("b")], now: T0 });
    await store.configSet({ key: "max_retries", value: 7 });
  }
  for (let i = 0; i < 2; i++) {
    await using store = SqliteStorage.open(tmp.db);
    assert.equal((await store.jobCountByState()).pending, 2, "counts are not reset");
    assert.deepEqual((await store.jobList({ limit: 10 })).jobs.map((j) => j.id), ["b", "a"]);
    assert.equal((await store.configGetAll()).max_retries, 7);
  }
  assert.equal(pragma(tmp.db, "user_version"), SCHEMA_VERSION);
});

Deno.test("SqliteStorage opens a database made by schema version 1 and every query works on it", async () => {
  await using tmp = await withTempDb();
  const old = new DatabaseSync(tmp.db);
  old.exec("PRAGMA journal_mode = WAL");
  old.exec(SCHEMA_V1);
  old.exec("PRAGMA user_version = 1");
  old.close();
  await using store = SqliteStorage.open(tmp.db);
  assert.equal(pragma(tmp.db, "user_version"), SCHEMA_VERSION, "migrated forward");
  await store.jobInsertMany({ jobs: [newJob("a"), { ...newJob("b"), queue: "q" }], now: T0 });
  assert.equal(await store.jobNextDueAt({ queues: null }), T0);
  assert.equal(await store.jobNextDueAt({ queues: ["q"] }), T0);
  const claimed = await store.jobClaim({
    workerId: "w1",
    queues: null,
    limit: 1,
    now: T0,
    leaseMs: LEASE,
  });
  assert.equal(claimed.length, 1);
  assert.equal((await store.jobList({ state: "pending", limit: 5 })).jobs.length, 1);
  assert.equal((await store.jobCountByState()).processing, 1);
  assert.equal(await store.jobNextRetryAt(), null);
  assert.deepEqual(await store.runFinishedCounts({ since: T0, bucketMs: 1000 }), []);
  assert.equal((await store.jobListStranded({ now: T0, workerIds: ["w1"] })).length, 1);
});

Deno.test("SqliteStorage.open() refuses a database from a newer schema version, saying so", async () => {
  await using tmp = await withTempDb();
  await SqliteStorage.open(tmp.db).close();
  const db = new DatabaseSync(tmp.db);
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assertStorageError(() => SqliteStorage.open(tmp.db), /newer/);
  assert.equal(pragma(tmp.db, "user_version"), SCHEMA_VERSION + 1, "the file is left as it was");
});

Deno.test("SqliteStorage.open() refuses a file of random bytes as not a queuectl database", async () => {
  await using tmp = await withTempDb();
  // Deterministic "random" bytes: a linear congruential sequence.
  const bytes = new Uint8Array(8192);
  let x = 12345;
  for (let i = 0; i < bytes.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  await Deno.writeFile(tmp.db, bytes);
  assertStorageError(() => SqliteStorage.open(tmp.db), /not a queuectl database or is corrupt/);
  assert.deepEqual(await Deno.readFile(tmp.db), bytes, "the file is left as it was");
});

Deno.test("SqliteStorage.open() refuses a text file as not a queuectl database", async () => {
  await using tmp = await withTempDb();
  await Deno.writeTextFile(tmp.db, "id,command\n1,echo hi\n".repeat(100));
  assertStorageError(() => SqliteStorage.open(tmp.db), /not a queuectl database or is corrupt/);
});

Deno.test("SqliteStorage.open() on a path it cannot open is a clear StorageError", async () => {
  await using tmp = await withTempDb();
  // The folder is missing (openStorage() creates it; the store alone does not).
  assertStorageError(() => SqliteStorage.open(`${tmp.dir}/no/such/folder/queue.db`), /open/);
  // The path is a folder.
  assertStorageError(() => SqliteStorage.open(tmp.dir), /open/);
});

Deno.test({
  name: "SqliteStorage on a read-only file reads it but refuses writes with a clear StorageError",
  ignore: readOnlySkipReason !== null,
  fn: async () => {
    await using tmp = await withTempDb();
    {
      await using store = SqliteStorage.open(tmp.db);
      await store.jobInsertMany({ jobs: [newJob("a")], now: T0 });
    }
    await using readOnly = await makeReadOnly(tmp.db);
    assert.ok(readOnly, "the probe said read-only files work here");
    await using store = SqliteStorage.open(tmp.db);
    assert.equal((await store.jobGet({ id: "a" }))?.state, "pending");
    await assert.rejects(
      async () => await store.jobInsertMany({ jobs: [newJob("b")], now: T0 }),
      (error: unknown) => {
        assert.ok(error instanceof StorageError, String(error));
        assert.match(error.message, /is read-only/);
        assert.match(error.hint ?? "", /permissions/);
        return true;
      },
    );
    await assert.rejects(
      async () => await store.configSet({ key: "max_retries", value: 1 }),
      StorageError,
    );
    assert.equal((await store.jobCountByState()).pending, 1);
  },
});

Deno.test("SqliteStorage keeps its count table equal to the jobs per state", async () => {
  await using tmp = await withTempDb();
  await using store = SqliteStorage.open(tmp.db);
  await store.jobInsertMany({
    jobs: Array.from({ length: 12 }, (_, i) => newJob(`j${i}`)),
    now: T0,
  });
  const claimed = await store.jobClaim({
    workerId: "w1",
    queues: null,
    limit: 8,
    now: T0,
    leaseMs: LEASE,
  });
  await store.runFinishMany({
    // Odd ones complete; of the even ones, a multiple of 3 dies, the others fail for a retry.
    finishes: claimed.slice(0, 6).map((job, i) =>
      finishOf(
        job,
        "w1",
        i % 2 ? { finishedAt: T0 + 10 } : i % 3 ? failure(T0 + 2000, T0 + 10) : death(T0 + 10),
      )
    ),
  });
  await store.jobCancel({
    ids: [(await store.jobList({ state: "pending", limit: 1 })).jobs[0]!.id],
    now: T0,
  });
  await store.jobDeleteDead({});
  const db = new DatabaseSync(tmp.db);
  try {
    const actual = Object.fromEntries(JOB_STATES.map((s) => [s, 0]));
    for (const row of db.prepare("SELECT state, count(*) AS n FROM jobs GROUP BY state").all()) {
      actual[row.state as string] = row.n as number;
    }
    assert.deepEqual(await store.jobCountByState(), actual);
    assert.equal(Object.values(actual).reduce((a, b) => a + b, 0), 12 - 1, "one dead job deleted");
  } finally {
    db.close();
  }
});

Deno.test("SqliteStorage: an update of any job field, flow control's too, is an edited event", async () => {
  await using tmp = await withTempDb();
  const store = await SqliteStorage.open(tmp.db);
  try {
    await store.jobInsertMany({ jobs: [newJob("e")], now: T0 });
    const raw = new DatabaseSync(tmp.db);
    try {
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
      ) raw.exec(`UPDATE jobs SET ${set}, updated_at = updated_at + 1 WHERE id = 'e'`);
      // Not an edit: a write of the same value, and the lease.
      raw.exec("UPDATE jobs SET grp = 'g', lease_expires_at = 5 WHERE id = 'e'");
    } finally {
      raw.close();
    }
    const { events } = await store.eventList({ after: 0, limit: 100 });
    assert.deepEqual(events.map((e) => e.type), ["enqueued", ...Array(8).fill("edited")]);
  } finally {
    await store.close();
  }
});
