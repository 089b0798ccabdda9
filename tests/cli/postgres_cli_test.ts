/**
 * The CLI on a PostgreSQL URL: one-line errors (exit 1) for a server that
 * cannot be used, and a password that never shows: not in errors, not in
 * `status`, not on a detached worker's command line.
 */
import assert from "node:assert/strict";
import { pgTest } from "../_postgres.ts";
import { runCli, tempDir, waitFor } from "../_helpers.ts";
import { assertOk, assertOneLineError } from "./_cli.ts";

const SECRET = "s3cret-pw";

/** `url` with a password and a fresh schema. */
function withPassword(url: string): string {
  const u = new URL(url);
  u.password = SECRET;
  return u.href;
}

Deno.test("a PostgreSQL server that cannot be reached is one line, exit 1, without the password", async () => {
  // Port 1 on loopback: nothing listens there, no server is needed.
  const db = `postgres://queuectl:${SECRET}@127.0.0.1:1/jobs?schema=q`;
  for (const args of [["status"], ["enqueue", '{"command":"true"}'], ["list"]]) {
    const result = await runCli(args, { db });
    assertOneLineError(result, 1, /Cannot reach PostgreSQL at 127\.0\.0\.1:1/, /check that/);
    assert.ok(!result.stderr.includes(SECRET), result.stderr);
  }
});

Deno.test("a schema name that is not an identifier is a usage error (exit 2)", async () => {
  const result = await runCli(["status"], {
    db: "postgres://queuectl@127.0.0.1:1/jobs?schema=bad-name;drop",
  });
  assertOneLineError(result, 2, /schema/i);
});

pgTest("a missing database is one line, exit 1, that says how to create it", async (server) => {
  const url = new URL(server.url);
  url.pathname = "/no_such_db";
  const result = await runCli(["status"], { db: withPassword(url.href) });
  assertOneLineError(result, 1, /"no_such_db" does not exist/, /createdb/);
  assert.ok(!result.stderr.includes(SECRET));
});

pgTest("a schema from a newer queuectl is refused and left as it was", async (server) => {
  const db = server.newUrl();
  const schema = new URL(db).searchParams.get("schema")!;
  try {
    assertOk(await runCli(["enqueue", '{"id":"kept","command":"true"}'], { db }));
    await server.admin(`UPDATE "${schema}".schema_version SET version = version + 1`);
    assertOneLineError(await runCli(["status"], { db }), 1, /newer queuectl/, /upgrade/);
    assertOneLineError(
      await runCli(["enqueue", '{"id":"new","command":"true"}'], { db }),
      1,
      /newer queuectl/,
    );
    const ids = await server.admin(`SELECT id FROM "${schema}".jobs ORDER BY id`);
    assert.deepEqual(ids.map((r) => r.id), ["kept"], "nothing was added");
  } finally {
    await server.admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
});

pgTest("status shows the URL without its password, and the server's version", async (server) => {
  const db = withPassword(server.newUrl());
  const schema = new URL(db).searchParams.get("schema")!;
  try {
    const text = assertOk(await runCli(["status"], { db }));
    assert.ok(!text.includes(SECRET), text);
    assert.match(
      text,
      new RegExp(`postgres://postgres@127\\.0\\.0\\.1:${server.port}/postgres\\?schema=${schema}`),
    );
    assert.match(text, /\(PostgreSQL \d+/);
    const json = JSON.parse(assertOk(await runCli(["status", "--json"], { db })));
    assert.ok(!JSON.stringify(json).includes(SECRET));
    assert.match(json.engine, /^PostgreSQL \d+/);
  } finally {
    await server.admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
});

pgTest(
  "worker start --detach keeps the password off the command line and logs under XDG_STATE_HOME",
  async (server) => {
    const db = withPassword(server.newUrl());
    const schema = new URL(db).searchParams.get("schema")!;
    await using state = await tempDir();
    const env = { XDG_STATE_HOME: state.path };
    let pid = 0;
    try {
      const started = await runCli(["worker", "start", "--detach", "--count", "1"], { db, env });
      assert.equal(started.code, 0, started.stderr);
      const match = started.stdout.match(/\(pid (\d+)\); log: (.+)$/m);
      assert.ok(match, started.stdout);
      pid = Number(match[1]);
      assert.equal(match[2], `${state.path}/queuectl/worker.log`);
      assert.ok(!started.stdout.includes(SECRET));
      const cmdline = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).replaceAll("\0", " ");
      assert.match(cmdline, /worker start/);
      assert.ok(!cmdline.includes(SECRET), `the password is on the command line: ${cmdline}`);
      assert.ok(!cmdline.includes("postgres://"), cmdline);

      assertOk(await runCli(["enqueue", '{"id":"bg","command":"echo hi"}'], { db }));
      await waitFor(async () => {
        const show = await runCli(["show", "bg", "--json"], { db });
        return show.code === 0 && JSON.parse(show.stdout).state === "completed";
      }, { timeoutMs: 15_000, message: "the detached worker to run bg" });
      const stopped = await runCli(["worker", "stop"], { db });
      assert.equal(stopped.code, 0, stopped.stderr);
      const log = await Deno.readTextFile(`${state.path}/queuectl/worker.log`);
      assert.match(log, /job bg {2}completed/);
      assert.ok(!log.includes(SECRET), "the log shows the password");
    } finally {
      if (pid > 0) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* stopped */ }
      }
      await server.admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  },
);
