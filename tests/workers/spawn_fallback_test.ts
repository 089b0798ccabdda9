/**
 * The fallback way of starting jobs (setsid(1), used where FFI is not
 * allowed or libc is not glibc) keeps the same guarantees: the spawning and
 * kill suites run again in a child `deno test` with `QUEUECTL_SPAWN=fallback`
 * (their first test checks that the fallback is the way in use).
 */
import assert from "node:assert/strict";

const SUITES = [
  "run_command_test.ts",
  "spawn_kill_test.ts",
  "process_group_test.ts",
].map((file) => new URL(file, import.meta.url).pathname);

Deno.test("the fallback spawn path passes the spawning and kill suites", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-check", ...SUITES],
    env: { QUEUECTL_SPAWN: "fallback", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `the suites failed with QUEUECTL_SPAWN=fallback:\n${out}\n${err}`);
  assert.match(out, /by the fallback when QUEUECTL_SPAWN=fallback \.\.\. ok/);
  assert.match(out, /ok \| \d+ passed \| 0 failed/);
});
