/**
 * The compiled binary: `deno compile` needs its runtime (denort), which it
 * downloads, and these machines cannot. With DENORT_BIN pointing at a
 * denort binary this test builds `dist/queuectl` and runs a job with it;
 * without, it says plainly that it was not run.
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { tempDir, waitFor } from "./_helpers.ts";

const denort = Deno.env.get("DENORT_BIN");
if (!denort) {
  console.log(
    "compile test NOT RUN: set DENORT_BIN to a denort binary to build and run dist/queuectl",
  );
}

Deno.test({
  name: "the compiled binary runs a job with its embedded worker module",
  ignore: !denort,
  async fn() {
    await using dir = await tempDir();
    const root = new URL("..", import.meta.url).pathname;
    const binary = `${dir.path}/queuectl`;
    // The flags of `deno task compile`, with the output moved to the temporary folder.
    const task = denoJson.tasks.compile.split(/\s+/).slice(1);
    const build = await new Deno.Command(Deno.execPath(), {
      args: task.map((arg, i) => task[i - 1] === "--output" ? binary : arg),
      cwd: root,
      env: { DENORT_BIN: denort! },
    }).output();
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
    const db = `${dir.path}/queue.db`;
    const run = (...args: string[]) =>
      new Deno.Command(binary, { args: ["--db", db, ...args], stdout: "piped", stderr: "piped" })
        .output();
    assert.equal((await run("enqueue", '{"id":"c1","command":"echo compiled"}')).code, 0);
    const worker = new Deno.Command(binary, {
      args: ["--db", db, "worker", "start"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitFor(async () => {
        const out = await run("show", "c1", "--json");
        return JSON.parse(new TextDecoder().decode(out.stdout)).state === "completed";
      }, { timeoutMs: 20_000, message: "c1 to complete with the compiled binary" });
    } finally {
      worker.kill("SIGTERM");
      await worker.status;
    }
    const logs = await run("logs", "c1");
    assert.equal(new TextDecoder().decode(logs.stdout), "compiled\n");
  },
});
