/**
 * Ending a crashed run's orphans: by its process group only while the
 * leader is the same process (a reused pid is never hit), and by the run's
 * cookie, matched exactly.
 */
import assert from "node:assert/strict";
import { endOrphans, processAlive, processStartTime } from "../../workers/process_group.ts";
import { mayBeInExec, pidsWithCookie } from "../../workers/proc_scan.ts";
import { waitFor } from "../_helpers.ts";
import { within } from "./_worker_process.ts";

/** A `sleep` leading its own session (setsid(1) execs it: pid = pgid = sid), with `env`. */
function sessionSleep(env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command("setsid", {
    args: ["sleep", "30"],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function leader(child: Deno.ChildProcess): Promise<string> {
  return await waitFor(() => {
    const stat = Deno.readTextFileSync(`/proc/${child.pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[2] === String(child.pid) && stat.includes("(sleep)") ? fields[19]! : null;
  }, { timeoutMs: 5000, message: "the sleep to lead its group" });
}

function ended(child: Deno.ChildProcess): Promise<Deno.CommandStatus | undefined> {
  return within(child.status, 2000);
}

Deno.test("endOrphans() leaves alone a group whose leader's start time differs (a reused pid)", async () => {
  const child = sessionSleep();
  try {
    const start = await leader(child);
    assert.equal(processStartTime(child.pid), start);
    await endOrphans([{ pgid: child.pid, procStart: String(Number(start) - 1), cookie: null }]);
    await endOrphans([{ pgid: child.pid, procStart: null, cookie: "not-this-run" }]);
    assert.equal(await ended(child), undefined, "a process that reused the pid was killed");
    assert.ok(processAlive(child.pid));
    await endOrphans([{ pgid: child.pid, procStart: start, cookie: null }]);
    assert.equal((await ended(child))?.signal, "SIGKILL", "the orphaned group was not ended");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* ended */ }
    await child.status;
  }
});

Deno.test("endOrphans() ends every process carrying the run's cookie, and only the exact one", async () => {
  const mine = sessionSleep({ QUEUECTL_RUN: "w-9/job/1" });
  const other = sessionSleep({ QUEUECTL_RUN: "w-9/job/10" });
  try {
    await leader(mine);
    await leader(other);
    assert.deepEqual(pidsWithCookie("w-9/job/1"), [mine.pid]);
    await endOrphans([
      { pgid: null, procStart: null, cookie: "w-9/job/1" },
      { pgid: null, procStart: null, cookie: "w-9/gone/3" },
    ]);
    assert.equal((await ended(mine))?.signal, "SIGKILL");
    assert.deepEqual(pidsWithCookie("w-9/job/1"), []);
    assert.equal(await ended(other), undefined, "a process of another run was killed");
  } finally {
    for (const child of [mine, other]) {
      try {
        child.kill("SIGKILL");
      } catch { /* ended */ }
      await child.status;
    }
  }
});

Deno.test("pidsWithCookie() with a start point finds processes started after it", async () => {
  const since = {
    pid: Number(Deno.readTextFileSync("/proc/sys/kernel/ns_last_pid")),
    atMs: Date.now(),
  };
  const child = sessionSleep({ QUEUECTL_RUN: "w-9/young/1" });
  try {
    await leader(child);
    assert.deepEqual(pidsWithCookie("w-9/young/1", since), [child.pid]);
    assert.deepEqual(pidsWithCookie("w-9/young/1"), [child.pid], "a full scan finds it too");
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("mayBeInExec() is false for what reads an empty environment for good: env -i, zombie, kernel thread", async () => {
  // Mid-exec is a window of microseconds; what must never look like it is what
  // reads empty for good, or a scan would wait for it on every job end.
  const cleared = new Deno.Command("env", {
    args: ["-i", "sleep", "30"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  // A zombie: a child of `sh` that exits while `sh` does not reap it yet.
  const parent = new Deno.Command("sh", {
    args: ["-c", "true & exec sleep 30"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    await waitFor(() => Deno.readTextFileSync(`/proc/${cleared.pid}/cmdline`).startsWith("sleep"), {
      timeoutMs: 5000,
      message: "env -i to exec sleep",
    });
    assert.equal(Deno.readFileSync(`/proc/${cleared.pid}/environ`).length, 0);
    assert.equal(mayBeInExec(cleared.pid), false, "env -i: it has its arguments");
    const zombie = await waitFor(() => {
      const children = Deno.readTextFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`);
      const pid = Number(children.trim().split(" ")[0]);
      return pid > 0 && Deno.readTextFileSync(`/proc/${pid}/stat`).includes(") Z ") ? pid : null;
    }, { timeoutMs: 5000, message: "a zombie child" });
    assert.equal(mayBeInExec(zombie), false, "a zombie");
    assert.equal(mayBeInExec(2), false, "kthreadd, a kernel thread");
    assert.equal(mayBeInExec(Deno.pid), false, "this process");
  } finally {
    cleared.kill("SIGKILL");
    parent.kill("SIGKILL");
    await cleared.status;
    await parent.status;
  }
});
