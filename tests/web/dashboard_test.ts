/** `queuectl dashboard` as a real process: its options, start-up lines and clean shutdown. */
import assert from "node:assert/strict";
import { parsePort, parseWorkers, resolveToken } from "../../cli/dashboard.ts";
import { UsageError } from "../../lib/errors.ts";
import type { WorkerInfo } from "../../lib/storage/storage.ts";
import { cliJson, runCli, waitFor, withTempDb } from "../_helpers.ts";
import { cliCommandArgs, freePort, startDashboard } from "./_process.ts";

Deno.test("parsePort() and parseWorkers() take integers in range", () => {
  assert.equal(parsePort("5000"), 5000);
  assert.equal(parsePort("0"), 0);
  for (const bad of ["", "x", "-1", "65536", "50.5"]) {
    assert.throws(() => parsePort(bad), UsageError, bad);
  }
  assert.equal(parseWorkers("0"), 0);
  assert.equal(parseWorkers("4"), 4);
  for (const bad of ["-1", "two", "100000"]) {
    assert.throws(() => parseWorkers(bad), UsageError, bad);
  }
});

Deno.test("resolveToken() generates a token on loopback and refuses other hosts without one", () => {
  const saved = Deno.env.get("QUEUECTL_TOKEN");
  Deno.env.delete("QUEUECTL_TOKEN");
  try {
    const a = resolveToken("127.0.0.1", undefined);
    const b = resolveToken("localhost", undefined);
    assert.ok(a.generated);
    assert.match(a.token, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a.token, b.token);
    assert.throws(() => resolveToken("0.0.0.0", undefined), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /without a token/);
      return true;
    });
    assert.deepEqual(resolveToken("0.0.0.0", "s3cret"), { token: "s3cret", generated: false });
    Deno.env.set("QUEUECTL_TOKEN", "from-env");
    assert.deepEqual(resolveToken("192.0.2.1", undefined), {
      token: "from-env",
      generated: false,
    });
    assert.throws(() => resolveToken("127.0.0.1", "has space"), UsageError);
  } finally {
    if (saved === undefined) Deno.env.delete("QUEUECTL_TOKEN");
    else Deno.env.set("QUEUECTL_TOKEN", saved);
  }
});

Deno.test("dashboard exits 2 when its port is in use", async () => {
  await using tmp = await withTempDb();
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const result = await runCli(["dashboard", "--port", String(port)], { db: tmp.db });
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr.trim(),
    `error: Cannot serve the dashboard: port ${port} is already in use on 127.0.0.1; ` +
      "stop the program using it or pass --port with a free port",
  );
});

Deno.test("dashboard exits 2 on a bad port or a non-loopback host without a token", async () => {
  await using tmp = await withTempDb();
  const badPort = await runCli(["dashboard", "--port", "http"], { db: tmp.db });
  assert.equal(badPort.code, 2);
  assert.match(badPort.stderr, /^error: Invalid port "http"/);
  // The child must not inherit a QUEUECTL_TOKEN: give it only what Deno needs.
  const env: Record<string, string> = { NO_COLOR: "1", QUEUECTL_DB: tmp.db };
  for (const name of ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: [...cliCommandArgs(), "dashboard", "--host", "0.0.0.0", "--port", "0"],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  });
  const result = await child.output();
  assert.equal(result.code, 2);
  assert.match(
    new TextDecoder().decode(result.stderr),
    /^error: Refusing to serve on "0\.0\.0\.0" without a token: .*; pass --token or set QUEUECTL_TOKEN/,
  );
});

Deno.test("dashboard prints the token URL, serves, and exits 0 on SIGTERM", async () => {
  await using tmp = await withTempDb();
  const port = freePort();
  await using dash = await startDashboard({ db: tmp.db, port, token: "tok-123" });
  assert.match(dash.output(), new RegExp(`^queuectl dashboard on http://127\\.0\\.0\\.1:${port} `));
  assert.match(
    dash.output(),
    new RegExp(`open http://127\\.0\\.0\\.1:${port}/\\?token=tok-123\\n`),
  );

  const stats = await fetch(`http://127.0.0.1:${port}/api/stats`, {
    headers: { Authorization: "Bearer tok-123" },
  });
  assert.equal(stats.status, 200);
  assert.equal((await stats.json()).db, tmp.db);
  const denied = await fetch(`http://127.0.0.1:${port}/api/stats`);
  assert.equal(denied.status, 401);
  await denied.body?.cancel();

  // An open event stream must not hold up the shutdown.
  const events = await fetch(`http://127.0.0.1:${port}/api/events`, {
    headers: { Authorization: "Bearer tok-123" },
  });
  const reader = events.body!.getReader();
  await reader.read();
  const code = await dash.stop("SIGTERM");
  assert.equal(code, 0);
  await waitFor(async () => (await reader.read()).done, { timeoutMs: 5000 });
  assert.match(dash.output(), /SIGTERM: stopping the dashboard/);
});

Deno.test("worker stop ends a dashboard's workers and leaves the dashboard serving", async () => {
  await using tmp = await withTempDb();
  const port = freePort();
  await using dash = await startDashboard({ db: tmp.db, port, token: "tok-w", workers: 2 });
  const workers = await waitFor(async () => {
    const list = await cliJson<WorkerInfo[]>(["worker", "list"], { db: tmp.db });
    return list.length === 1 ? list : null;
  }, { timeoutMs: 10_000, message: "the dashboard's workers to register" });
  assert.equal(workers[0]!.role, "dashboard");

  const stopped = await runCli(["worker", "stop", "--timeout", "20"], { db: tmp.db });
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stdout, /all workers stopped/);
  assert.deepEqual(await cliJson(["worker", "list"], { db: tmp.db }), []);

  const stats = await fetch(`http://127.0.0.1:${port}/api/stats`, {
    headers: { Authorization: "Bearer tok-w" },
  });
  assert.equal(stats.status, 200, "the dashboard still serves");
  await stats.body?.cancel();
  assert.equal(await dash.stop("SIGTERM"), 0);
});
