/**
 * `worker service`: the unit it prints passes `systemd-analyze verify`,
 * holds no password, names the database through its environment file, and
 * stops the way README "Running workers as a service" says.
 */
import assert from "node:assert/strict";
import {
  environmentFileLines,
  servicePath,
  serviceUnitText,
  STOP_TIMEOUT_S,
  systemdWord,
} from "../../cli/worker_service.ts";
import { runCli, tempDir } from "../_helpers.ts";
import { assertOk } from "./_cli.ts";

/** `systemd-analyze`, or `null` (after a NOT RUN line) when it is not installed. */
const systemdAnalyze = await (async () => {
  for (const path of ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]) {
    try {
      await Deno.stat(path);
      return path;
    } catch { /* look further */ }
  }
  console.log(
    "NOT RUN: worker service unit check: systemd-analyze is missing; install it with: apt-get install -y systemd",
  );
  return null;
})();

const URL_WITH_PASSWORD = "postgres://bob:s3cr%24t@db.internal:5432/jobs?schema=q&sslmode=require";

/** The unit printed for `args`, with what went to stderr. */
async function unitFor(db: string, ...args: string[]): Promise<{ unit: string; hint: string }> {
  const result = await runCli(["worker", "service", ...args], { db });
  return { unit: assertOk(result), hint: result.stderr };
}

/** The values of `key=` lines in a unit. */
function values(unit: string, key: string): string[] {
  return unit.split("\n").filter((l) => l.startsWith(`${key}=`)).map((l) =>
    l.slice(key.length + 1)
  );
}

Deno.test({
  name: "worker service prints a unit that systemd-analyze verify accepts without a warning",
  ignore: systemdAnalyze === null,
  async fn() {
    await using dir = await tempDir();
    const { unit } = await unitFor(`${dir.path}/queue.db`, "--count", "4", "--queue", "mail");
    const file = `${dir.path}/queuectl-worker.service`;
    await Deno.writeTextFile(file, unit);
    const output = await new Deno.Command(systemdAnalyze!, {
      args: ["verify", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, said);
    assert.ok(!said.includes("queuectl-worker.service"), `no warning about the unit:\n${said}`);
  },
});

Deno.test("worker service names the database through an environment file and never its password", async () => {
  const { unit, hint } = await unitFor(URL_WITH_PASSWORD, "--name", "jobs-mail");
  for (const text of [unit, hint]) {
    assert.doesNotMatch(text, /s3cr/, "no password");
  }
  assert.doesNotMatch(unit, /db\.internal/, "the database is not in the unit");
  assert.doesNotMatch(unit, /^[^#].*QUEUECTL_DB/m, "nor set by the unit itself");
  assert.deepEqual(values(unit, "EnvironmentFile"), ["/etc/queuectl/jobs-mail.env"]);
  // The hint shows the environment file's lines, the password left for the reader.
  assert.match(
    hint,
    /QUEUECTL_DB=postgres:\/\/bob@db\.internal:5432\/jobs\?schema=q&sslmode=require/,
  );
  assert.match(hint, /PGPASSWORD=…/);
  assert.match(hint, /systemctl daemon-reload && systemctl enable --now jobs-mail/);
});

Deno.test("worker service stops the worker alone with SIGTERM and ends the rest with the service", async () => {
  await using dir = await tempDir();
  const { unit } = await unitFor(`${dir.path}/queue.db`, "--count", "3", "-q", "a", "-q", "b");
  assert.deepEqual(values(unit, "Restart"), ["on-failure"]);
  assert.deepEqual(values(unit, "KillMode"), ["mixed"]);
  assert.deepEqual(values(unit, "KillSignal"), ["SIGTERM"]);
  assert.deepEqual(values(unit, "TimeoutStopSec"), [String(STOP_TIMEOUT_S)]);
  assert.ok(STOP_TIMEOUT_S > 63, "longer than a job's default timeout and kill grace");
  const exec = values(unit, "ExecStart")[0] ?? "";
  assert.ok(exec.startsWith("/"), `an absolute program: ${exec}`);
  assert.ok(exec.endsWith(" worker start --count 3 --queue a --queue b"), exec);
  assert.deepEqual(values(unit, "WorkingDirectory"), [Deno.cwd()]);
});

Deno.test("systemdWord() quotes spaces and doubles % and $", () => {
  assert.equal(systemdWord("/usr/bin/deno"), "/usr/bin/deno");
  assert.equal(systemdWord("/my dir/main.ts"), '"/my dir/main.ts"');
  assert.equal(systemdWord("50%$x"), "50%%$$x");
  assert.equal(systemdWord('a"b\\c'), '"a\\"b\\\\c"');
});

Deno.test("environmentFileLines() keeps a file path and takes a URL's password out", () => {
  assert.deepEqual(environmentFileLines("/var/lib/q/queue.db"), [
    "QUEUECTL_DB=/var/lib/q/queue.db",
  ]);
  assert.deepEqual(environmentFileLines("/my data/q.db"), ['QUEUECTL_DB="/my data/q.db"']);
  assert.deepEqual(environmentFileLines("postgres://u:p@h/db"), [
    "QUEUECTL_DB=postgres://u@h/db",
    "PGPASSWORD=…",
  ]);
});

Deno.test("serviceUnitText() runs the given program with worker start and the queues", () => {
  const text = serviceUnitText({
    name: "w",
    exec: ["/opt/bin/queuectl"],
    count: 2,
    queues: ["mail"],
    user: "jobs",
    workingDirectory: "/srv/jobs",
    environmentFile: "/etc/queuectl/w.env",
    path: "/opt/deno:/usr/bin",
    environment: { DENO_DIR: "/var/cache/deno" },
  });
  assert.deepEqual(values(text, "ExecStart"), [
    "/opt/bin/queuectl worker start --count 2 --queue mail",
  ]);
  assert.deepEqual(values(text, "User"), ["jobs"]);
  assert.deepEqual(values(text, "Environment"), [
    "PATH=/opt/deno:/usr/bin",
    "NO_COLOR=1",
    "DENO_DIR=/var/cache/deno",
  ]);
});

Deno.test("servicePath() puts deno's folder first, once", () => {
  assert.equal(
    servicePath("/usr/local/bin/deno"),
    "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
  );
  assert.ok(servicePath("/opt/deno/deno").startsWith("/opt/deno:/usr/local/sbin:"));
});
