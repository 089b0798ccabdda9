/**
 * Where a batch enqueue's time goes, phase by phase, inside one process:
 * `deno run -A bench/enqueue_profile.ts [N]` (default 100,000 jobs).
 *
 * Each phase is timed on its own (CPU time of this process and wall time),
 * the same way `cli/enqueue.ts` and `SqliteStorage.jobInsertMany()` do the
 * work; then the insert is repeated with variations of the schema and the
 * pragmas, to show what each index and setting costs against the raw rate.
 */
import process from "node:process";
import { insertedJobs, type NewJob } from "../lib/job.ts";
import { parseJsonObject, tryParseJobInput } from "../lib/job_input.ts";
import { JobInputSchema } from "../lib/job_input_schema.ts";
import { SqliteStorage } from "../lib/storage/sqlite/store.ts";
import { benchJob, benchNdjson, createSchema, INSERT_JOB, openDb } from "./_db.ts";
import { tempDir } from "./_process.ts";

interface Phase {
  name: string;
  wallMs: number;
  cpuMs: number;
  perJobUs: number;
}

const n = Number(Deno.args[0] ?? 100_000);
if (!Number.isInteger(n) || n < 1 || n > 10_000_000) {
  console.error("usage: deno run -A bench/enqueue_profile.ts [jobs, 1 to 10,000,000]");
  Deno.exit(2);
}
const phases: Phase[] = [];

function time<T>(name: string, fn: () => T): T {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = fn();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  phases.push({
    name,
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    perJobUs: wallMs * 1000 / n,
  });
  return result;
}

async function timeAsync<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await fn();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  phases.push({
    name,
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    perJobUs: wallMs * 1000 / n,
  });
  return result;
}

/** Inserts the jobs with one prepared statement after `setup` ran on the fresh schema. */
async function rawInsert(
  path: string,
  jobs: NewJob[],
  now: number,
  name: string,
  setup: string,
): Promise<void> {
  await createSchema(path);
  using db = openDb(path);
  if (setup) db.exec(setup);
  time(name, () => {
    db.exec("BEGIN IMMEDIATE");
    const insert = db.prepare(INSERT_JOB);
    for (const job of jobs) insert.run(job.id, job.command, job.priority, now, now, job.run_at);
    db.prepare("UPDATE job_counts SET n = n + ? WHERE state = 'pending'").run(jobs.length);
    db.exec("COMMIT");
  });
}

await using dir = await tempDir();
const file = `${dir.path}/jobs.ndjson`;
await Deno.writeTextFile(file, benchNdjson(n));
const now = Date.now();

// Warm the code paths (JIT, zod's compiled parsers) on a few lines first.
for (let i = 0; i < 1000; i++) {
  tryParseJobInput(parseJsonObject(JSON.stringify(benchJob(i))), now);
  JobInputSchema.parse(benchJob(i));
}

const text = await timeAsync("read the file", () => Deno.readTextFile(file));
time("split lines (an array of every line)", () => text.split("\n"));
const lines = time("scan lines with indexOf (as enqueue --file does)", () => {
  const found: string[] = [];
  for (let start = 0; start <= text.length;) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() !== "") found.push(line);
  }
  return found;
});
const values = time("JSON.parse each line", () => lines.map((l) => JSON.parse(l)));
time("zod: the schema alone (the error path)", () => values.map((v) => JobInputSchema.parse(v)));
time(
  "plain checks: tryParseJobInput (validate + defaults)",
  () => values.map((v) => tryParseJobInput(v, now)),
);
const jobs = time(
  "parse + validate, as enqueue --file does",
  () => lines.map((l) => tryParseJobInput(JSON.parse(l), now)!),
);
time("duplicate check (Map of ids; now only after a conflict)", () => {
  const seen = new Map<string, number>();
  jobs.forEach((job, i) => seen.set(job.id, i));
});
time("insertedJobs(): Job objects (only for --json)", () => insertedJobs(jobs, now));

{
  const path = `${dir.path}/store.db`;
  await createSchema(path);
  const store = SqliteStorage.open(path);
  await timeAsync(
    "SqliteStorage.jobInsertMany (all of it)",
    () => store.jobInsertMany({ jobs, now }),
  );
  await store.close();
}
await rawInsert(`${dir.path}/raw.db`, jobs, now, "raw insert, shipped schema", "");
await rawInsert(
  `${dir.path}/sync_off.db`,
  jobs,
  now,
  "raw insert, synchronous = OFF",
  "PRAGMA synchronous = OFF",
);
await rawInsert(
  `${dir.path}/cache.db`,
  jobs,
  now,
  "raw insert, cache_size = -65536 (64 MiB)",
  "PRAGMA cache_size = -65536",
);
for (
  const index of [
    "jobs_created",
    "jobs_state_created",
    "jobs_due",
    "jobs_next_due",
  ]
) {
  await rawInsert(
    `${dir.path}/no_${index}.db`,
    jobs,
    now,
    `raw insert, without index ${index}`,
    `DROP INDEX ${index}`,
  );
}
{
  // page_size only takes effect before the first table is written.
  const path = `${dir.path}/page16k.db`;
  const db = openDb(path);
  db.exec("PRAGMA page_size = 16384; CREATE TABLE _page (x); DROP TABLE _page");
  db.close();
  await rawInsert(path, jobs, now, "raw insert, page_size = 16384", "");
}
await rawInsert(
  `${dir.path}/no_list_indexes.db`,
  jobs,
  now,
  "raw insert, without the 2 list indexes",
  "DROP INDEX jobs_created; DROP INDEX jobs_state_created",
);
await rawInsert(
  `${dir.path}/bare.db`,
  jobs,
  now,
  "raw insert, no secondary index at all",
  `DROP INDEX jobs_created; DROP INDEX jobs_state_created; DROP INDEX jobs_due;
   DROP INDEX jobs_next_due; DROP INDEX jobs_retry_due; DROP INDEX jobs_running`,
);

{
  // The same rows, fewer calls into SQLite: 500 rows per INSERT, as jobInsertMany() does.
  const path = `${dir.path}/multi.db`;
  await createSchema(path);
  using db = openDb(path);
  const per = 500;
  const values = Array.from({ length: per }, () => "(?, ?, 'pending', 'default', ?, ?, ?, ?)")
    .join(", ");
  time("raw insert, 500 rows per INSERT (multi-row VALUES)", () => {
    db.exec("BEGIN IMMEDIATE");
    const many = db.prepare(
      `INSERT INTO jobs (id, command, state, queue, priority, created_at, updated_at,
         next_run_at) VALUES ${values}`,
    );
    const one = db.prepare(INSERT_JOB);
    let i = 0;
    for (; i + per <= jobs.length; i += per) {
      const args: (string | number)[] = [];
      for (let k = i; k < i + per; k++) {
        const job = jobs[k]!;
        args.push(job.id, job.command, job.priority, now, now, job.run_at);
      }
      many.run(...args);
    }
    for (; i < jobs.length; i++) {
      const job = jobs[i]!;
      one.run(job.id, job.command, job.priority, now, now, job.run_at);
    }
    db.exec("COMMIT");
  });
}
{
  // The same rows as one JSON array per 10,000, expanded by SQLite's json_each.
  const path = `${dir.path}/json_each.db`;
  await createSchema(path);
  using db = openDb(path);
  time("raw insert, INSERT ... SELECT FROM json_each(?) per 10,000", () => {
    db.exec("BEGIN IMMEDIATE");
    const insert = db.prepare(
      `INSERT INTO jobs (id, command, state, queue, priority, created_at, updated_at,
         next_run_at)
       SELECT value ->> 0, value ->> 1, 'pending', 'default', value ->> 2, ?, ?, value ->> 3
       FROM json_each(?)`,
    );
    for (let i = 0; i < jobs.length; i += 10_000) {
      const chunk = jobs.slice(i, i + 10_000).map((j) => [j.id, j.command, j.priority, j.run_at]);
      insert.run(now, now, JSON.stringify(chunk));
    }
    db.exec("COMMIT");
  });
}

const header = ["phase", "wall ms", "cpu ms", "µs/job", "jobs/s"];
const rows = phases.map((p) => [
  p.name,
  p.wallMs.toFixed(1),
  p.cpuMs.toFixed(0),
  p.perJobUs.toFixed(2),
  Math.round(n / (p.wallMs / 1000)).toLocaleString("en-US"),
]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) =>
  r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
console.log(line(header));
for (const r of rows) console.log(line(r));
console.log(`\n${n.toLocaleString("en-US")} jobs; ${navigator.hardwareConcurrency} cores`);
