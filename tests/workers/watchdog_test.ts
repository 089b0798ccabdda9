/**
 * The watchdog (DESIGN.md, "Watchdog") on one host: a worker process that
 * dies leaves no job process behind for more than 2 s, one that freezes has
 * its jobs ended before their leases expire, and one that stops normally
 * leaves no watchdog behind.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { waitFor, withTempDb } from "../_helpers.ts";
import {
  configSet,
  enqueue,
  isLive,
  killMatching,
  pidsMatching,
  read,
  runCliWithin,
  startWorker,
  uniqueSleep,
  waitForJob,
  watchdogsOf,
} from "./_worker_process.ts";

/** The process group of `pid`, from /proc, or null once it is gone. */
function pgidOf(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return null;
  }
}

function sessionOf(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
  } catch {
    return null;
  }
}

/** Live members of process group `pgid`. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    if (pgidOf(Number(entry.name)) === pgid && isLive(Number(entry.name))) {
      members.push(Number(entry.name));
    }
  }
  return members;
}

/**
 * A job whose shell and children ignore SIGTERM: a child in the job's group
 * and one that left it (`setsid`), all found by `sleep`'s unique marker.
 */
function stubbornJob(sleep: string): string {
  return `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then trap '' TERM; ` +
    `(trap '' TERM; ${sleep}) & setsid ${sleep} & ${sleep}; fi; echo done`;
}

/** The `sleep` processes among those whose command line holds `marker` (not the shells). */
async function sleeps(marker: string): Promise<number[]> {
  return (await pidsMatching(marker)).filter((pid) => {
    try {
      return Deno.readTextFileSync(`/proc/${pid}/comm`).trim() === "sleep";
    } catch {
      return false;
    }
  });
}

/** The lease of job `id` in a SQLite database (epoch ms), read directly. */
function leaseOf(db: string, id: string): number | null {
  const sqlite = new DatabaseSync(db, { readOnly: true });
  try {
    const row = sqlite.prepare("SELECT lease_expires_at FROM jobs WHERE id = ?").get(id);
    return (row?.lease_expires_at as number | null | undefined) ?? null;
  } finally {
    sqlite.close();
  }
}

Deno.test("a worker killed with SIGKILL: its watchdog ends the job's whole tree within 2 s, SIGTERM-trapping processes too", async () => {
  await using tmp = await withTempDb("sqlite");
  const sleep = uniqueSleep(41);
  try {
    await configSet(tmp.db, "lease_timeout", 30);
    await enqueue(tmp.db, { id: "stubborn", command: stubbornJob(sleep) });
    await using worker = await startWorker(tmp.db);
    await waitFor(async () => (await sleeps(sleep)).length === 3, {
      timeoutMs: 15_000,
      message: `the job's 3 processes to run\n${worker.log()}`,
    });
    const watchdogs = watchdogsOf(worker.pid);
    assert.equal(watchdogs.length, 1, `one watchdog: ${watchdogs}`);
    assert.notEqual(sessionOf(watchdogs[0]!), sessionOf(worker.pid), "a session of its own");
    const pids = await sleeps(sleep);
    const groups = [...new Set(pids.map(pgidOf).filter((g): g is number => g !== null))];
    assert.equal(groups.length, 2, `the job's group and the setsid child's: ${groups}`);

    worker.kill("SIGKILL");
    const killedAt = Date.now();
    await waitFor(
      async () =>
        (await pidsMatching(sleep)).length === 0 &&
        groups.every((g) => groupMembers(g).length === 0),
      {
        timeoutMs: 2000,
        intervalMs: 20,
        message: `the job's processes to end within 2 s of the kill\n${worker.log()}`,
      },
    );
    const endedIn = Date.now() - killedAt;
    await waitFor(() => watchdogsOf(worker.pid).length === 0, {
      timeoutMs: 2000,
      message: "the watchdog to exit",
    });
    assert.equal((await worker.status).signal, "SIGKILL");
    assert.match(worker.stderr(), /watchdog of supervisor \d+: supervisor gone: ending its jobs/);
    console.log(`job tree ended ${endedIn} ms after the SIGKILL`);
  } finally {
    await killMatching(sleep);
  }
});

Deno.test("a worker frozen with SIGSTOP: its watchdog ends its jobs before the lease expires; after SIGCONT it goes on", async () => {
  await using tmp = await withTempDb("sqlite");
  const sleep = uniqueSleep(42);
  try {
    await configSet(tmp.db, "lease_timeout", 3);
    await configSet(tmp.db, "backoff_base", 1);
    await enqueue(tmp.db, { id: "frozen", command: stubbornJob(sleep), max_retries: 2 });
    await using worker = await startWorker(tmp.db);
    await waitFor(async () => (await sleeps(sleep)).length === 3, {
      timeoutMs: 15_000,
      message: `the job's processes to run\n${worker.log()}`,
    });
    worker.kill("SIGSTOP");
    // Frozen: nothing renews the lease any more, so this is its end.
    const lease = leaseOf(tmp.db, "frozen")!;
    let goneAt = 0;
    await waitFor(async () => {
      if ((await pidsMatching(sleep)).length > 0) return false;
      goneAt = Date.now();
      return true;
    }, {
      timeoutMs: 10_000,
      intervalMs: 20,
      message: `the frozen worker's job to be ended\n${worker.log()}`,
    });
    assert.ok(
      goneAt < lease,
      `the job's processes were gone at ${goneAt}, ${goneAt - lease} ms after the lease ended`,
    );
    assert.equal(watchdogsOf(worker.pid).length, 1, "the watchdog stays for the next jobs");
    worker.kill("SIGCONT");
    const job = await waitForJob(tmp.db, "frozen", (j) => j.state === "completed", {
      timeoutMs: 20_000,
      workers: [worker],
    });
    assert.equal(job.runs.length, 2, JSON.stringify(job.runs));
    assert.notEqual(job.runs[0]!.outcome, "succeeded");
    await enqueue(tmp.db, { id: "after", command: "echo after" });
    await waitForJob(tmp.db, "after", (j) => j.state === "completed", { workers: [worker] });
    assert.ok(isLive(worker.pid), "the worker goes on after SIGCONT");
    assert.equal((await worker.stop()).code, 0, worker.log());
    console.log(`frozen worker's job gone ${lease - goneAt} ms before its lease ended`);
  } finally {
    await killMatching(sleep);
  }
});

Deno.test("a worker stopped with `worker stop` leaves no watchdog behind", async () => {
  await using tmp = await withTempDb("sqlite");
  await using worker = await startWorker(tmp.db);
  await waitFor(() => watchdogsOf(worker.pid).length === 1, {
    timeoutMs: 5000,
    message: `a watchdog for ${worker.pid}`,
  });
  await enqueue(tmp.db, { id: "quick", command: "echo hi" });
  await waitForJob(tmp.db, "quick", (j) => j.state === "completed", { workers: [worker] });
  const stop = await runCliWithin(["worker", "stop"], { db: tmp.db }, 15_000);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal((await worker.status).code, 0, worker.log());
  await waitFor(() => watchdogsOf(worker.pid).length === 0, {
    timeoutMs: 1000,
    message: "the watchdog to exit with its supervisor",
  });
  assert.equal((await read.workers(tmp.db)).length, 0);
});
