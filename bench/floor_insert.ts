/**
 * The start-up floor of `enqueue` of one job (DESIGN.md, "Performance"):
 * the least a Deno program can do to add a job to the same store. It opens
 * the database given as its argument (a SQLite file, or a PostgreSQL URL with
 * postgres.js, as the CLI does), inserts one pending job, prints its id, and
 * exits.
 *
 * Usage: deno run -A bench/floor_insert.ts <db>
 */
const db = Deno.args[0]!;
const id = `floor-${crypto.randomUUID()}`;
const now = Date.now();

if (/^postgres(ql)?:\/\//.test(db)) {
  const url = new URL(db);
  const schema = url.searchParams.get("schema") ?? "queuectl";
  url.searchParams.delete("schema");
  const { default: postgres } = await import("postgres");
  const sql = postgres(url.href, { max: 1, connection: { search_path: schema } });
  await sql.unsafe(
    `INSERT INTO jobs (id, command, state, queue, priority, created_at, updated_at, next_run_at)
     VALUES ($1, 'true', 'pending', 'default', 0, $2, $2, $2)`,
    [id, now],
  );
  await sql.end();
} else {
  const { DatabaseSync } = await import("node:sqlite");
  const conn = new DatabaseSync(db);
  conn.exec("PRAGMA busy_timeout = 5000");
  conn.prepare(
    `INSERT INTO jobs (id, command, state, queue, priority, created_at, updated_at, next_run_at)
     VALUES (?, 'true', 'pending', 'default', 0, ?, ?, ?)`,
  ).run(id, now, now, now);
  conn.close();
}
console.log(id);
