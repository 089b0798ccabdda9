/** The command line as a whole: help, version, where the database lives, persistence. */
import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import type { Job } from "../../lib/job.ts";
import type { Stats } from "../../lib/stats.ts";
import { cliJson, runCli, tempDir, withTempDb } from "../_helpers.ts";
import { assertOk } from "./_cli.ts";

/**
 * Deno's cache folder, passed on explicitly where a test moves HOME, so the
 * child finds its npm packages instead of fetching them again.
 */
const DENO_DIR = await (async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return (JSON.parse(new TextDecoder().decode(output.stdout)) as { denoDir: string }).denoDir;
})();

/** Every command of the tree, by its words. */
const COMMANDS = [
  [],
  ["enqueue"],
  ["worker"],
  ["worker", "start"],
  ["worker", "stop"],
  ["worker", "list"],
  ["worker", "service"],
  ["status"],
  ["list"],
  ["show"],
  ["wait"],
  ["logs"],
  ["retry"],
  ["cancel"],
  ["dlq"],
  ["dlq", "list"],
  ["dlq", "retry"],
  ["dlq", "purge"],
  ["config"],
  ["config", "list"],
  ["config", "get"],
  ["config", "set"],
  ["dashboard"],
  ["selftest"],
];

/** Runs `fn` over `items`, at most `limit` at a time, keeping the order of the results. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

Deno.test("--help on every command exits 0 and shows its usage", async () => {
  await using tmp = await withTempDb();
  const results = await pool(COMMANDS, 4, (words) => runCli([...words, "--help"], { db: tmp.db }));
  COMMANDS.forEach((words, i) => {
    const result = results[i]!;
    const name = ["queuectl", ...words].join(" ");
    assert.equal(result.code, 0, `${name} --help exits 0: ${result.stderr}`);
    assert.match(result.stdout, new RegExp(`^USAGE\n {2}${name}\\b`), name);
    const isGroup = words.length === 0 ? false : ["worker", "dlq", "config"].includes(words[0]!) &&
      words.length === 1;
    if (!isGroup) {
      assert.match(result.stdout, /Examples:\n {2}\$ queuectl /, `${name} has examples`);
    }
  });
  await assert.rejects(Deno.stat(tmp.db), Deno.errors.NotFound, "help opens no database");
});

Deno.test("-h is --help", async () => {
  const short = await runCli(["list", "-h"]);
  const long = await runCli(["list", "--help"]);
  assert.equal(short.code, 0);
  assert.equal(short.stdout, long.stdout);
});

Deno.test("--version and -V print the version alone and exit 0", async () => {
  for (const flag of ["--version", "-V"]) {
    const result = await runCli([flag]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `${denoJson.version}\n`);
    assert.equal(result.stderr, "");
  }
});

Deno.test("jobs and settings persist from one process to the next", async () => {
  await using tmp = await withTempDb();
  assertOk(await runCli(["enqueue", '{"id":"keep1","command":"echo kept"}'], { db: tmp.db }));
  assertOk(await runCli(["enqueue", '{"id":"keep2","command":"echo also"}'], { db: tmp.db }));
  assertOk(await runCli(["config", "set", "max_retries", "9"], { db: tmp.db }));
  assertOk(await runCli(["cancel", "keep2"], { db: tmp.db }));
  const jobs = await cliJson<Job[]>(["list"], { db: tmp.db });
  assert.deepEqual(jobs.map((j) => [j.id, j.state]), [["keep2", "cancelled"], [
    "keep1",
    "pending",
  ]]);
  assert.deepEqual(await cliJson(["config", "get", "max_retries"], { db: tmp.db }), {
    max_retries: 9,
  });
});

Deno.test("--db wins over QUEUECTL_DB, which is used when --db is absent", async () => {
  await using tmp = await tempDir();
  const fromEnv = `${tmp.path}/env.db`;
  const fromFlag = `${tmp.path}/flag.db`;
  const env = { QUEUECTL_DB: fromEnv };
  assertOk(await runCli(["--db", fromFlag, "enqueue", '{"id":"f","command":"x"}'], { env }));
  assertOk(await runCli(["enqueue", '{"id":"e","command":"x"}'], { env }));
  const flagStats = await cliJson<Stats>(["--db", fromFlag, "status"], { env });
  const envStats = await cliJson<Stats>(["status"], { env });
  assert.equal(flagStats.db, fromFlag);
  assert.equal(envStats.db, fromEnv);
  assert.deepEqual((await cliJson<Job[]>(["list"], { env })).map((j) => j.id), ["e"]);
  assert.deepEqual(
    (await cliJson<Job[]>(["list", "--db", fromFlag], { env })).map((j) => j.id),
    ["f"],
    "--db works after the command too",
  );
});

Deno.test("the default database is $XDG_DATA_HOME/queuectl/queue.db, its folder created", async () => {
  await using tmp = await tempDir();
  const env = {
    QUEUECTL_DB: "",
    XDG_DATA_HOME: `${tmp.path}/xdg`,
    HOME: `${tmp.path}/home`,
    DENO_DIR,
  };
  assertOk(await runCli(["enqueue", '{"id":"x1","command":"true"}'], { env }));
  const stats = await cliJson<Stats>(["status"], { env });
  assert.equal(stats.db, `${tmp.path}/xdg/queuectl/queue.db`);
  assert.equal(stats.counts.pending, 1);
  assert.ok((await Deno.stat(stats.db)).isFile);
  await assert.rejects(Deno.stat(`${tmp.path}/home`), Deno.errors.NotFound, "HOME is not used");
});

Deno.test("without XDG_DATA_HOME the default database is ~/.local/share/queuectl/queue.db", async () => {
  await using tmp = await tempDir();
  const env = { QUEUECTL_DB: "", XDG_DATA_HOME: "", HOME: tmp.path, DENO_DIR };
  assertOk(await runCli(["enqueue", '{"id":"h1","command":"true"}'], { env }));
  const stats = await cliJson<Stats>(["status"], { env });
  assert.equal(stats.db, `${tmp.path}/.local/share/queuectl/queue.db`);
  assert.ok((await Deno.stat(stats.db)).isFile);
  assert.equal(stats.counts.pending, 1);
});

Deno.test("a database whose folder is missing is created with its folders", async () => {
  await using tmp = await tempDir();
  const db = `${tmp.path}/a/b/c/queue.db`;
  assertOk(await runCli(["enqueue", '{"id":"deep","command":"true"}'], { db }));
  assert.ok((await Deno.stat(db)).isFile);
  assert.equal((await cliJson<Job>(["show", "deep"], { db })).state, "pending");
});
