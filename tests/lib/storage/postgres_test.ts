import assert from "node:assert/strict";
import { StorageError, UsageError } from "../../../lib/errors.ts";
import { JOB_STATES } from "../../../lib/job.ts";
import {
  OFFSET_MAX_ROUND_TRIP_MS,
  type PgDb,
  setOffset,
} from "../../../lib/storage/postgres/connection.ts";
import { PostgresStorage } from "../../../lib/storage/postgres/store.ts";
import { PG_SCHEMA_VERSION } from "../../../lib/storage/postgres/schema.ts";
import {
  isPostgresUrl,
  parsePostgresUrl,
  redactLocation,
} from "../../../lib/storage/postgres/url.ts";
import { pg, pgTest, type TestPostgres } from "../../_postgres.ts";
import { waitFor } from "../../_helpers.ts";
import { death, failure, finishOf, LEASE, newJob, T0 } from "./_fixtures.ts";
import { storageConformance } from "./conformance.ts";

function schemaOf(url: string): string {
  return new URL(url).searchParams.get("schema")!;
}

/** A fresh schema, dropped when disposed. */
function freshSchema(server: TestPostgres): { url: string } & AsyncDisposable {
  const url = server.newUrl();
  return {
    url,
    async [Symbol.asyncDispose]() {
      await server.admin(`DROP SCHEMA IF EXISTS "${schemaOf(url)}" CASCADE`);
    },
  };
}

if (pg) {
  const server = pg;
  storageConformance("PostgresStorage", () => {
    const schema = freshSchema(server);
    return Promise.resolve({
      open: () => PostgresStorage.open(schema.url),
      [Symbol.asyncDispose]: () => schema[Symbol.asyncDispose](),
    });
  });
} else {
  // Counted as ignored, with the NOT RUN line tests/_postgres.ts printed.
  Deno.test({ name: "PostgresStorage: the storage conformance suite", ignore: !pg, fn() {} });
}

/** Asserts that `promise` rejects with a one-line StorageError (exit 1) matching `pattern`. */
async function assertStorageError(
  promise: Promise<unknown>,
  pattern: RegExp,
  secret?: string,
): Promise<StorageError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof StorageError, `expected a StorageError, got ${caught}`);
  assert.equal(caught.exitCode, 1);
  const line = `${caught.message}; ${caught.hint}`;
  assert.match(line, pattern);
  assert.doesNotMatch(line, /\n/);
  if (secret) assert.ok(!line.includes(secret), `the error shows the password: ${line}`);
  return caught;
}

// --- URLs (no server needed) ---

Deno.test("isPostgresUrl() recognises postgres:// and postgresql:// only", () => {
  assert.equal(isPostgresUrl("postgres://h/db"), true);
  assert.equal(isPostgresUrl("postgresql://h/db"), true);
  assert.equal(isPostgresUrl("/var/lib/queue.db"), false);
  assert.equal(isPostgresUrl("queue.db"), false);
});

Deno.test("redactLocation() drops the password and always shows the schema", () => {
  assert.equal(
    redactLocation("postgres://alice:s3cret@db.example:6543/jobs"),
    "postgres://alice@db.example:6543/jobs?schema=queuectl",
  );
  assert.equal(
    redactLocation("postgresql://alice:s3cret@db.example/jobs?schema=team_a&sslmode=require"),
    "postgres://alice@db.example:5432/jobs?schema=team_a",
  );
  assert.equal(redactLocation("/tmp/queue.db"), "/tmp/queue.db");
  assert.equal(redactLocation(":memory:"), ":memory:");
  assert.ok(!redactLocation("postgres://a:s3cret@h/db?schema=Bad-Name").includes("s3cret"));
});

Deno.test("parsePostgresUrl() splits off the schema and refuses a bad schema name (exit 2)", () => {
  const parsed = parsePostgresUrl("postgres://alice:pw@h:7000/jobs?schema=s1&sslmode=disable");
  assert.equal(parsed.schema, "s1");
  assert.equal(parsed.host, "h");
  assert.equal(parsed.port, 7000);
  assert.equal(parsed.user, "alice");
  assert.equal(parsed.database, "jobs");
  assert.equal(new URL(parsed.connectionUrl).searchParams.get("schema"), null);
  assert.equal(new URL(parsed.connectionUrl).searchParams.get("sslmode"), "disable");
  for (const bad of ["Upper", "1abc", "a-b", "x".repeat(64), ""]) {
    assert.throws(
      () => parsePostgresUrl(`postgres://h/db?schema=${bad}`),
      (error: unknown) => {
        assert.ok(error instanceof UsageError, String(error));
        assert.equal(error.exitCode, 2);
        assert.match(error.message, new RegExp(`"${bad}"`));
        return true;
      },
    );
  }
});

// --- opening and migrating ---

pgTest("PostgresStorage: ten concurrent opens of a new schema all succeed", async (server) => {
  await using schema = freshSchema(server);
  const stores = await Promise.all(
    Array.from({ length: 10 }, () => PostgresStorage.open(schema.url)),
  );
  try {
    const [row] = await server.admin(
      `SELECT version FROM "${schemaOf(schema.url)}".schema_version`,
    );
    assert.equal(row!.version, PG_SCHEMA_VERSION);
    assert.equal(
      (await server.admin(
        `SELECT count(*)::int AS n FROM "${schemaOf(schema.url)}".schema_version`,
      ))[0]!
        .n,
      1,
    );
    await stores[3]!.jobInsertMany({ jobs: [newJob("a")], now: T0 });
    assert.equal((await stores[7]!.jobCountByState()).pending, 1);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
});

pgTest(
  "PostgresStorage.open() refuses a schema from a newer version, saying so",
  async (server) => {
    await using schema = freshSchema(server);
    await (await PostgresStorage.open(schema.url)).close();
    const name = schemaOf(schema.url);
    await server.admin(`UPDATE "${name}".schema_version SET version = ${PG_SCHEMA_VERSION + 1}`);
    await assertStorageError(PostgresStorage.open(schema.url), /newer queuectl.*upgrade queuectl/);
    const [row] = await server.admin(`SELECT version FROM "${name}".schema_version`);
    assert.equal(row!.version, PG_SCHEMA_VERSION + 1, "left as it was");
  },
);

pgTest("PostgresStorage: location never shows the URL's password", async (server) => {
  await using schema = freshSchema(server);
  const url = schema.url.replace("postgres://postgres@", "postgres://postgres:s3cret@");
  await using store = await PostgresStorage.open(url);
  assert.ok(!store.location.includes("s3cret"), store.location);
  assert.equal(
    store.location,
    `postgres://postgres@${server.host}:${server.port}/postgres?schema=${schemaOf(url)}`,
  );
});

// --- connection errors ---

pgTest(
  "PostgresStorage.open() on a port with no server is a one-line StorageError",
  async (server) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const url = `postgres://postgres:s3cret@127.0.0.1:${port}/postgres`;
    assert.ok(server);
    await assertStorageError(
      PostgresStorage.open(url),
      new RegExp(`Cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}`),
      "s3cret",
    );
  },
);

pgTest("PostgresStorage.open() of a missing database says to create it", async (server) => {
  const url = `postgres://postgres:s3cret@${server.host}:${server.port}/no_such_db`;
  await assertStorageError(
    PostgresStorage.open(url),
    new RegExp(
      `Database "no_such_db" does not exist on PostgreSQL at ${server.host}:${server.port}.*createdb`,
    ),
    "s3cret",
  );
});

pgTest("PostgresStorage.open() with a failed login is a one-line StorageError", async (server) => {
  // Trust auth lets any existing role in with any password. A role that
  // does not exist fails the login everywhere (28000); a wrong password
  // (28P01) needs a pg_hba line asking for one, added on our own cluster.
  await assertStorageError(
    PostgresStorage.open(
      `postgres://no_such_role:s3cret@${server.host}:${server.port}/postgres`,
    ),
    new RegExp(`PostgreSQL at ${server.host}:${server.port} refused the login.*user and password`),
    "s3cret",
  );
  if (server.dataDir === null) return;
  const hba = `${server.dataDir}/pg_hba.conf`;
  const original = await Deno.readTextFile(hba);
  await server.admin("DROP ROLE IF EXISTS qc_pw; CREATE ROLE qc_pw LOGIN PASSWORD 'right-one'");
  try {
    await Deno.writeTextFile(hba, `host all qc_pw 127.0.0.1/32 scram-sha-256\n${original}`);
    await server.admin("SELECT pg_reload_conf()");
    await assertStorageError(
      PostgresStorage.open(`postgres://qc_pw:wrong-one@${server.host}:${server.port}/postgres`),
      /refused the login of user "qc_pw": password authentication failed/,
      "wrong-one",
    );
  } finally {
    await Deno.writeTextFile(hba, original);
    await server.admin("SELECT pg_reload_conf()");
    await server.admin("DROP ROLE IF EXISTS qc_pw");
  }
});

// --- counts, claims, wake-ups ---

async function actualCounts(server: TestPostgres, url: string): Promise<Record<string, number>> {
  const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0]));
  for (
    const row of await server.admin(
      `SELECT state, count(*)::int AS n FROM "${schemaOf(url)}".jobs GROUP BY state`,
    )
  ) {
    counts[row.state as string] = row.n as number;
  }
  return counts;
}

pgTest("PostgresStorage keeps counts exact across the fold of the deltas", async (server) => {
  await using schema = freshSchema(server);
  await using store = await PostgresStorage.open(schema.url);
  const name = schemaOf(schema.url);
  const deltas = async () =>
    (await server.admin(`SELECT count(*)::int AS n FROM "${name}".job_count_deltas`))[0]!
      .n as number;
  await store.jobInsertMany({
    jobs: Array.from({ length: 30 }, (_, i) => newJob(`j${String(i).padStart(2, "0")}`)),
    now: T0,
  });
  await store.workerRegister({ id: "w1", pid: 1, host: "h", count: 5, queues: null, now: T0 });
  const claimed = await store.jobClaim({
    workerId: "w1",
    queues: null,
    limit: 12,
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
  assert.ok(await deltas() > 0);
  assert.deepEqual(await store.jobCountByState(), await actualCounts(server, schema.url));

  await store.workerHeartbeat({ id: "w1", now: T0 + 20, leaseMs: LEASE });
  assert.equal(await deltas(), 0, "the heartbeat folded the deltas");
  assert.deepEqual(await store.jobCountByState(), await actualCounts(server, schema.url));

  await store.jobCancel({ ids: ["j29", claimed[7]!.id], now: T0 + 30 });
  await store.jobDeleteDead({});
  await store.jobRetry({ ids: [claimed[2]!.id], now: T0 + 30 });
  assert.deepEqual(await store.jobCountByState(), await actualCounts(server, schema.url));
  await store.workerHeartbeat({ id: "w1", now: T0 + 40, leaseMs: LEASE });
  assert.deepEqual(await store.jobCountByState(), await actualCounts(server, schema.url));
  const total = Object.values(await store.jobCountByState()).reduce((a, b) => a + b, 0);
  assert.equal(total, 30 - 1, "one dead job deleted");
});

pgTest("PostgresStorage claims are disjoint across two connections", async (server) => {
  await using schema = freshSchema(server);
  await using one = await PostgresStorage.open(schema.url, { connections: 3 });
  await using two = await PostgresStorage.open(schema.url, { connections: 3 });
  await one.jobInsertMany({
    jobs: Array.from({ length: 200 }, (_, i) => newJob(`j${i}`)),
    now: T0,
  });
  const taken: string[] = [];
  const claimer = async (store: PostgresStorage, workerId: string) => {
    for (;;) {
      const jobs = await store.jobClaim({ workerId, queues: null, limit: 3, now: T0, leaseMs: 1 });
      if (jobs.length === 0) return;
      taken.push(...jobs.map((j) => j.id));
    }
  };
  await Promise.all([
    claimer(one, "a"),
    claimer(one, "b"),
    claimer(one, "c"),
    claimer(two, "d"),
    claimer(two, "e"),
    claimer(two, "f"),
  ]);
  assert.equal(taken.length, 200);
  assert.equal(new Set(taken).size, 200);
  assert.equal((await two.jobCountByState()).processing, 200);
  const [runs] = await server.admin(
    `SELECT count(*)::int AS n FROM "${schemaOf(schema.url)}".runs`,
  );
  assert.equal(runs!.n, 200, "one run per claim");
});

pgTest(
  "PostgresStorage notifies for an insert but not for a claim, heartbeat or output",
  async (server) => {
    await using schema = freshSchema(server);
    await using store = await PostgresStorage.open(schema.url);
    await using watcher = await PostgresStorage.open(schema.url);
    let wakes = 0;
    const watch = watcher.watchChanges(() => wakes++);
    try {
      await waitFor(() => wakes >= 1, {
        intervalMs: 10,
        message: "the LISTEN to start (onlisten wakes once)",
      });
      assert.equal(wakes, 1);
      await store.workerRegister({ id: "w1", pid: 1, host: "h", count: 1, queues: null, now: T0 });
      // Setting up a claimable job notifies, once.
      await store.jobInsertMany({ jobs: [newJob("a")], now: T0 });
      await waitFor(() => wakes === 2, { intervalMs: 10, message: "the insert's notification" });
      const base = wakes;

      const [job] = await store.jobClaim({
        workerId: "w1",
        queues: null,
        limit: 1,
        now: T0,
        leaseMs: LEASE,
      });
      await store.runStartMany({
        starts: [{
          id: "a",
          workerId: "w1",
          attempt: job!.attempt,
          host: "h",
          pgid: 1,
          procStart: "x",
        }],
      });
      await store.runOutputUpdateMany({
        updates: [{
          id: "a",
          workerId: "w1",
          attempt: job!.attempt,
          stdout: new TextEncoder().encode("hi"),
          stderr: new Uint8Array(),
        }],
      });
      await store.workerHeartbeat({ id: "w1", now: T0 + 1, leaseMs: LEASE });
      assert.equal((await store.runOutputGet({ id: "a" }))?.stdout, "hi");
      // Notifications arrive in commit order: once the insert's has, any
      // from the quiet writes before it would have too.
      await store.jobInsertMany({ jobs: [newJob("b")], now: T0 });
      await waitFor(() => wakes > base, {
        intervalMs: 10,
        message: "the second insert's notification",
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(wakes, base + 1, "claim, start, output and heartbeat were quiet");
    } finally {
      watch.close();
    }
  },
);

pgTest("PostgresStorage.now() follows the server's clock", async (server) => {
  await using schema = freshSchema(server);
  await using store = await PostgresStorage.open(schema.url);
  const [row] = await server.admin(
    "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms",
  );
  assert.ok(Math.abs(store.now() - (row!.ms as number)) < 1000);
});

pgTest(
  "PostgresStorage rebuilds a LISTEN connection that went silent and wakes its watchers",
  async (server) => {
    await using schema = freshSchema(server);
    await using store = await PostgresStorage.open(schema.url);
    await using writer = await PostgresStorage.open(schema.url);
    let wakes = 0;
    const watch = store.watchChanges(() => wakes++);
    const listenerPids = async () =>
      (await server.admin(
        `SELECT pid FROM pg_stat_activity
         WHERE application_name = 'queuectl-listen:${schemaOf(schema.url)}'`,
      )).map((r) => r.pid as number);
    let stalled: number | undefined;
    try {
      await waitFor(() => wakes >= 1, { intervalMs: 10, message: "the LISTEN to start" });
      [stalled] = await listenerPids();
      assert.ok(stalled, "the listening backend is found");
      // A stopped backend is a silent loss: the socket stays open, no error
      // comes, and no notification is delivered.
      Deno.kill(stalled, "SIGSTOP");
      const base = wakes;
      await writer.jobInsertMany({ jobs: [newJob("after-stall")], now: T0 });
      await waitFor(() => wakes > base, {
        intervalMs: 10,
        timeoutMs: 15_000,
        message: "a wake-up through a rebuilt connection",
      });
      const pids = await listenerPids();
      assert.ok(pids.some((pid) => pid !== stalled), "a new listening backend");
      const again = wakes;
      await writer.jobInsertMany({ jobs: [newJob("later")], now: T0 });
      await waitFor(() => wakes > again, {
        intervalMs: 10,
        timeoutMs: 5000,
        message: "notifications flow again",
      });
    } finally {
      watch.close();
      if (stalled) {
        Deno.kill(stalled, "SIGCONT");
        await server.admin(`SELECT pg_terminate_backend(${stalled})`);
      }
    }
  },
);

Deno.test("setOffset() takes a clock sample from a short round trip and refuses a long one", () => {
  const pg = { offset: 0 } as PgDb;
  // A round trip that just began: trusted, the offset is the server's lead.
  assert.equal(setOffset(pg, Date.now() + 5000, performance.now()), true);
  assert.ok(Math.abs(pg.offset - 5000) < 200, `offset ${pg.offset}`);
  // One that began longer ago than the limit: the sample may be off by half of it.
  const longAgo = performance.now() - OFFSET_MAX_ROUND_TRIP_MS - 1;
  assert.equal(setOffset(pg, Date.now() + 60_000, longAgo), false);
  assert.ok(Math.abs(pg.offset - 5000) < 200, "the offset stays as it was");
});
