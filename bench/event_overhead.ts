/**
 * The event log's per-job cost (DESIGN.md "The event log"): enqueue, claim
 * and finish N jobs through the storage layer (no process starts), with
 * the event triggers and with them dropped (for the bench only), on a
 * fresh database each, in the same run. Prints µs per job (PostgreSQL too
 * when `QUEUECTL_TEST_PG_URL` or `--postgres` names a server).
 *
 *   deno run -A bench/event_overhead.ts [--jobs 5000] [--postgres URL]
 */
import { DatabaseSync } from "node:sqlite";
import { openStorage } from "../lib/storage/open_storage.ts";
import type { Storage } from "../lib/storage/storage.ts";

const args = Deno.args;
const jobs = Number(args[args.indexOf("--jobs") + 1] ?? 5000) || 5000;
const pgUrl = args.includes("--postgres")
  ? args[args.indexOf("--postgres") + 1]
  : Deno.env.get("QUEUECTL_TEST_PG_URL");

/** Per job: the batch insert, and one claim-and-finish cycle, in µs. */
let insertUs = 0;

async function cycle(store: Storage, n: number): Promise<number> {
  const now = store.now();
  const insertStarted = performance.now();
  await store.jobInsertMany({
    jobs: Array.from({ length: n }, (_, i) => ({
      id: `b${i}`,
      command: "true",
      queue: "default",
      priority: 0,
      max_retries: null,
      timeout: null,
      env: null,
      cwd: null,
      run_at: now,
      after: null,
      key: null,
      retry_on: null,
    })),
    now,
  });
  insertUs = ((performance.now() - insertStarted) * 1000) / n;
  const started = performance.now();
  for (let done = 0; done < n;) {
    const claimed = await store.jobClaim({
      workerId: "bench",
      queues: null,
      limit: 4,
      now: store.now(),
      leaseMs: 30_000,
    });
    await store.runFinishMany({
      finishes: claimed.map((job) => ({
        id: job.id,
        workerId: "bench",
        attempt: job.attempt,
        outcome: "succeeded" as const,
        exitCode: 0,
        signal: null,
        error: null,
        finishedAt: store.now(),
        stdout: null,
        stderr: null,
        state: "completed" as const,
        nextRunAt: null,
        uncountAttempt: false,
      })),
    });
    done += claimed.length;
  }
  return ((performance.now() - started) * 1000) / n;
}

const TRIGGERS = [
  "jobs_event_insert",
  "jobs_event_state",
  "jobs_event_run",
  "jobs_event_progress",
  "jobs_event_edit",
];

async function sqlite(withEvents: boolean): Promise<{ us: number; walPerJob: number }> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/bench.db`;
  await using store = await openStorage(path);
  if (!withEvents) {
    const raw = new DatabaseSync(path);
    for (const t of TRIGGERS) raw.exec(`DROP TRIGGER IF EXISTS ${t}`);
    raw.close();
  }
  const walBefore = await Deno.stat(`${path}-wal`).then((s) => s.size).catch(() => 0);
  const us = await cycle(store, jobs);
  (withEvents ? insOn : insOff).push(insertUs);
  const walAfter = await Deno.stat(`${path}-wal`).then((s) => s.size).catch(() => 0);
  await store.close();
  await Deno.remove(dir, { recursive: true });
  return { us, walPerJob: (walAfter - walBefore) / jobs };
}

async function postgres(url: string, withEvents: boolean): Promise<number> {
  const schema = `bench_events_${withEvents ? "on" : "off"}_${Date.now()}`;
  const u = new URL(url);
  u.searchParams.set("schema", schema);
  await using store = await openStorage(u.href);
  const { default: pg } = await import("postgres");
  const sql = pg(url, { onnotice: () => {} });
  if (!withEvents) {
    await sql.unsafe(`DROP TRIGGER jobs_event_insert ON "${schema}".jobs`);
    await sql.unsafe(`DROP TRIGGER jobs_event_update ON "${schema}".jobs`);
  }
  const us = await cycle(store, jobs);
  (withEvents ? insOn : insOff).push(insertUs);
  await store.close();
  await sql.unsafe(`DROP SCHEMA "${schema}" CASCADE`);
  await sql.end();
  return us;
}

const insOn: number[] = [];
const insOff: number[] = [];

// Alternate the two, twice, so drift on a shared machine hits both alike.
const rows: string[] = [];
const on: number[] = [];
const off: number[] = [];
for (let round = 0; round < 2; round++) {
  const a = await sqlite(false);
  const b = await sqlite(true);
  off.push(a.us);
  on.push(b.us);
}
const best = (xs: number[]) => Math.min(...xs);
rows.push(
  `SQLite: claim+finish ${best(off).toFixed(0)} µs/job without events, ${
    best(on).toFixed(0)
  } µs/job with (${(best(on) / best(off)).toFixed(2)}x); batch insert ${
    best(insOff).toFixed(1)
  } -> ${best(insOn).toFixed(1)} µs/job`,
);
insOn.length = 0;
insOff.length = 0;
if (pgUrl) {
  const pOff: number[] = [];
  const pOn: number[] = [];
  for (let round = 0; round < 2; round++) {
    pOff.push(await postgres(pgUrl, false));
    pOn.push(await postgres(pgUrl, true));
  }
  rows.push(
    `PostgreSQL: claim+finish ${best(pOff).toFixed(0)} µs/job without events, ${
      best(pOn).toFixed(0)
    } µs/job with (${(best(pOn) / best(pOff)).toFixed(2)}x); batch insert ${
      best(insOff).toFixed(1)
    } -> ${best(insOn).toFixed(1)} µs/job`,
  );
}
for (const row of rows) console.log(row);
