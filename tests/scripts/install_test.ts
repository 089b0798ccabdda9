/**
 * `deno task install` into a temporary root: the command it puts there
 * runs from any folder, on any database, and the checkout's lockfile is
 * left as it was.
 */
import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { binDir, onPath } from "../../scripts/install.ts";
import { tempDir } from "../_helpers.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const decoder = new TextDecoder();

async function run(command: string, args: string[], cwd: string) {
  const output = await new Deno.Command(command, {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("install puts a queuectl into <root>/bin that runs enqueue and status from another folder", async () => {
  await using dir = await tempDir();
  const root = `${dir.path}/root`;
  const elsewhere = `${dir.path}/elsewhere`;
  await Deno.mkdir(elsewhere);
  const lockBefore = await Deno.readTextFile(`${ROOT}/deno.lock`);

  const install = await run(Deno.execPath(), ["task", "-q", "install", "--root", root], ROOT);
  assert.equal(install.code, 0, install.stdout + install.stderr);
  const queuectl = `${root}/bin/queuectl`;
  assert.match(install.stdout, new RegExp(`as ${queuectl}\\n`));
  // The temporary root is not on PATH, so the line that adds it is printed.
  assert.ok(install.stdout.includes(`export PATH="${root}/bin:$PATH"`), install.stdout);
  assert.equal(await Deno.readTextFile(`${ROOT}/deno.lock`), lockBefore, "deno.lock unchanged");

  const version = await run(queuectl, ["--version"], elsewhere);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout, `${denoJson.version}\n`);

  const db = `${dir.path}/data/queue.db`;
  const enqueue = await run(
    queuectl,
    ["--db", db, "enqueue", "--id", "i1", "--", "echo", "hi"],
    elsewhere,
  );
  assert.equal(enqueue.code, 0, enqueue.stderr);
  assert.equal(enqueue.stdout, "i1\n");
  const status = await run(queuectl, ["--db", db, "status", "--json"], elsewhere);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).counts.pending, 1);

  // With the folder on PATH, a service unit runs the installed command.
  const service = await new Deno.Command(queuectl, {
    args: ["--db", db, "worker", "service"],
    cwd: elsewhere,
    env: { PATH: `${root}/bin:${Deno.env.get("PATH")}` },
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(service.code, 0);
  assert.match(
    decoder.decode(service.stdout),
    new RegExp(`^ExecStart=${queuectl} worker start`, "m"),
  );
});

Deno.test("binDir() is <root>/bin, else $DENO_INSTALL_ROOT/bin or ~/.deno/bin", () => {
  assert.equal(binDir("/opt/q/"), "/opt/q/bin");
  const home = Deno.env.get("HOME");
  const installRoot = Deno.env.get("DENO_INSTALL_ROOT");
  assert.equal(binDir(undefined), installRoot ? `${installRoot}/bin` : `${home}/.deno/bin`);
});

Deno.test("onPath() finds a folder among PATH's, with or without a trailing slash", () => {
  assert.ok(onPath("/a/bin", "/usr/bin:/a/bin/"));
  assert.ok(!onPath("/a/bin", "/usr/bin:/a/bin2"));
  assert.ok(!onPath("/a/bin", undefined));
});
