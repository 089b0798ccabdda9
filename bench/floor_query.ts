/**
 * The start-up floor of `status` and `list` (DESIGN.md, "Performance"): the
 * least a Deno program can do to answer from the same store. It opens the
 * database given as its argument (a SQLite file, or a PostgreSQL URL with
 * postgres.js, as the CLI does), runs one query, prints the rows, and exits.
 *
 * Usage: deno run -A bench/floor_query.ts <db>
 */
const db = Deno.args[0]!;
const QUERY = "SELECT state, n FROM job_counts";

if (/^postgres(ql)?:\/\//.test(db)) {
  const url = new URL(db);
  const schema = url.searchParams.get("schema") ?? "queuectl";
  url.searchParams.delete("schema");
  const { default: postgres } = await import("postgres");
  const sql = postgres(url.href, { max: 1, connection: { search_path: schema } });
  console.log(JSON.stringify(await sql.unsafe(QUERY)));
  await sql.end();
} else {
  const { DatabaseSync } = await import("node:sqlite");
  const conn = new DatabaseSync(db);
  console.log(JSON.stringify(conn.prepare(QUERY).all()));
  conn.close();
}
