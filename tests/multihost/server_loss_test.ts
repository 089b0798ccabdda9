/**
 * Losing the server under running jobs (DESIGN.md, "Fencing"): a crash
 * (`pg_ctl -m immediate`) with the server gone longer than the lease,
 * backends of claims and heartbeats terminated mid-transaction, and a
 * link that drops a fifth of its packets. Whatever happens, no two
 * attempts of a job overlap, nothing is lost, and nothing stays
 * `processing` unrun.
 */
import assert from "node:assert/strict";
import { type Host, type MultihostContext, multihostTest } from "../_netns.ts";
import { waitFor } from "../_helpers.ts";
import { configSet, enqueueMany } from "../workers/_worker_process.ts";
import { AttemptWatch, loggedJob } from "./_events.ts";
import { assertOnceAtATime, waitSettled } from "./_fencing.ts";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function startAll(t: MultihostContext) {
  return Promise.all(t.hosts.map((host) => t.startWorker(host)));
}

multihostTest(
  "the server crashes and stays away longer than the lease: jobs are fenced, then all run once at a time",
  async (t) => {
    const file = `${t.dir}/events.log`;
    await configSet(t.db, "lease_timeout", 4);
    await configSet(t.db, "backoff_base", 1);
    // The lab runs with synchronous_commit off, which loses the last
    // commits in a crash: a claim the workers saw would be forgotten.
    // Durable commits here (DESIGN.md, "Fencing" says what a lossy server does).
    await t.admin("ALTER SYSTEM SET synchronous_commit = on");
    await t.admin("SELECT pg_reload_conf()");
    await using watch = new AttemptWatch(file);
    const workers = await startAll(t);
    const ids = Array.from({ length: 12 }, (_, i) => `crash-${i}`);
    await enqueueMany(t.db, ids.map((id) => ({ id, command: loggedJob(file, "sleep 3") })));
    await waitFor(() => watch.attempts().length >= 6, {
      timeoutMs: 20_000,
      message: `jobs to run on both hosts\n${t.logs()}`,
    });
    await t.stopServer("immediate");
    const stoppedAt = Date.now();
    // Away for two and a half leases: every running job must be fenced.
    await delay(10_000);
    await t.startServer();
    const goneMs = Date.now() - stoppedAt;
    try {
      await waitSettled(t, ids, 90_000);
    } finally {
      await t.admin("ALTER SYSTEM RESET synchronous_commit");
      await t.admin("SELECT pg_reload_conf()");
    }
    const attempts = await assertOnceAtATime(t, watch, ids);
    for (const w of workers) assert.equal(w.exited(), false, `a worker exited\n${w.log()}`);
    const killed = attempts.filter((a) => a.endLine === null).length;
    console.log(`server away ${goneMs} ms; ${killed} attempt(s) fenced; all ${ids.length} ran`);
  },
  { hosts: 2 },
);

multihostTest(
  "backends of claims and heartbeats terminated mid-transaction: nothing lost, nothing run twice at once",
  async (t) => {
    const file = `${t.dir}/events.log`;
    await configSet(t.db, "lease_timeout", 6);
    await configSet(t.db, "backoff_base", 1);
    await using watch = new AttemptWatch(file);
    await startAll(t);
    const ids = Array.from({ length: 60 }, (_, i) => `term-${i}`);
    await enqueueMany(t.db, ids.map((id) => ({ id, command: loggedJob(file, "sleep 0.3") })));
    // Every worker backend but LISTEN, again and again: some in the middle
    // of a claim, a heartbeat or a finish, the others idle between them.
    let terminated = 0;
    let busy = 0;
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const [row] = await t.admin(
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n,
           count(*) FILTER (WHERE state <> 'idle') AS busy FROM pg_stat_activity
         WHERE client_addr <<= $1::inet AND query NOT ILIKE 'LISTEN%'`,
        [t.subnet],
      );
      terminated += Number(row!.n);
      busy += Number(row!.busy);
      await delay(50);
    }
    const rows = await waitSettled(t, ids, 90_000);
    await assertOnceAtATime(t, watch, ids);
    assert.ok(terminated > 0, "no backend was terminated: the test proves nothing");
    const retried = [...rows.values()].filter((r) => r.attempts > 1).length;
    console.log(
      `${terminated} backends terminated (${busy} not idle); ` +
        `${retried} job(s) took more than one attempt`,
    );
  },
  { hosts: 2 },
);

/** Whether `iptables` works inside a namespace here; else why not. */
async function iptablesNotRun(host: Host): Promise<string | null> {
  try {
    const out = await new Deno.Command("ip", {
      args: ["netns", "exec", host.ns, "iptables", "-L", "-n"],
      stdout: "null",
      stderr: "piped",
    }).output();
    return out.success ? null : new TextDecoder().decode(out.stderr).trim();
  } catch (error) {
    return String(error);
  }
}

async function iptables(host: Host, args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", {
    args: ["netns", "exec", host.ns, "iptables", ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

multihostTest(
  "a host whose link drops 20% of its packets: nothing lost, nothing run twice at once",
  async (t) => {
    const [a] = t.hosts as [Host];
    const why = await iptablesNotRun(a);
    if (why !== null) {
      console.log(`NOT RUN: packet loss: no iptables here (${why}); apt-get install -y iptables`);
      return;
    }
    const file = `${t.dir}/events.log`;
    await configSet(t.db, "lease_timeout", 6);
    await configSet(t.db, "backoff_base", 1);
    await using watch = new AttemptWatch(file);
    await startAll(t);
    const drop = ["-m", "statistic", "--mode", "random", "--probability", "0.2", "-j", "DROP"];
    await iptables(a, ["-A", "INPUT", ...drop]);
    await iptables(a, ["-A", "OUTPUT", ...drop]);
    try {
      const ids = Array.from({ length: 24 }, (_, i) => `loss-${i}`);
      await enqueueMany(t.db, ids.map((id) => ({ id, command: loggedJob(file, "sleep 1") })));
      await waitSettled(t, ids, 120_000);
      const attempts = await assertOnceAtATime(t, watch, ids);
      const onA = attempts.filter((x) => x.host === a.name).length;
      console.log(`${attempts.length} attempts, ${onA} on the lossy host`);
    } finally {
      await iptables(a, ["-F"]).catch(() => {});
    }
  },
  { hosts: 2 },
);
