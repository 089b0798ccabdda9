/**
 * Workers on many hosts (DESIGN.md "PostgreSQL") when the server side fails under running workers on
 * three hosts: a PostgreSQL restart, a terminated LISTEN backend, and a
 * LISTEN connection lost without a word. Workers reconnect on their own,
 * lose no job, and idle pickup returns to milliseconds within seconds
 * (see `_pickup.ts` for how a pickup is timed).
 */
import assert from "node:assert/strict";
import { openStorage } from "../../lib/storage/open_storage.ts";
import { type Host, type MultihostContext, multihostTest } from "../_netns.ts";
import { waitFor } from "../_helpers.ts";
import { configSet, enqueueMany, read, status } from "../workers/_worker_process.ts";
import { AttemptWatch, findOverlaps, loggedJob } from "./_events.ts";
import { median, PICKUP_OK_MS, pickupRecovery, pickupSamples, probeArgs } from "./_pickup.ts";
import type { Storage } from "../../lib/storage/storage.ts";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Fails unless the host's median pickup of 7 probes is within {@linkcode PICKUP_OK_MS}. */
async function assertPickupFast(
  t: MultihostContext,
  store: Storage,
  watch: AttemptWatch,
  host: Host,
  when: string,
): Promise<number[]> {
  const samples = await pickupSamples(store, watch, host);
  assert.ok(
    median(samples) <= PICKUP_OK_MS,
    `${host.name}: pickup ${when} took ${samples.join(", ")} ms (median ${
      median(samples)
    }, want ≤ ${PICKUP_OK_MS}): idle workers wait for the poll, not LISTEN\n${t.logs()}`,
  );
  return samples;
}

/** Within `withinMs` of `since`, every host's pickup is fast again; returns how long each took. */
async function assertPickupRecovers(
  t: MultihostContext,
  store: Storage,
  watch: AttemptWatch,
  since: number,
  withinMs: number,
  what: string,
): Promise<Record<string, number>> {
  // Every host at once: each must recover within the same few seconds.
  const results = await Promise.all(
    t.hosts.map((host) => pickupRecovery(store, watch, host, since + withinMs)),
  );
  const recovered: Record<string, number> = {};
  t.hosts.forEach((host, i) => {
    const { okSince, samples } = results[i]!;
    assert.ok(
      okSince !== null,
      `${host.name}: pickup did not return to ≤ ${PICKUP_OK_MS} ms within ${withinMs} ms of ${what}: ` +
        `samples ${samples.map((s) => (s === Infinity ? "never" : s)).join(", ")} ms\n${t.logs()}`,
    );
    recovered[host.name] = okSince - since;
  });
  // Then the medians, one host at a time: probes at once would share the CPU they time.
  for (const host of t.hosts) await assertPickupFast(t, store, watch, host, `after ${what}`);
  return recovered;
}

/** The LISTEN sessions of the hosts' workers: backend pid and the client's address and port. */
async function listenSessions(
  t: MultihostContext,
): Promise<{ pid: number; addr: string; port: number; app: string }[]> {
  const rows = await t.admin(
    `SELECT pid, host(client_addr) AS addr, client_port, application_name
     FROM pg_stat_activity
     WHERE query ILIKE 'LISTEN%' AND client_addr <<= $1::inet ORDER BY client_addr`,
    [t.subnet],
  );
  return rows.map((r) => ({
    pid: Number(r.pid),
    addr: r.addr as string,
    port: Number(r.client_port),
    app: r.application_name as string,
  }));
}

async function assertEveryHostListens(t: MultihostContext, when: string) {
  let sessions: Awaited<ReturnType<typeof listenSessions>> = [];
  await waitFor(async () => {
    sessions = await listenSessions(t);
    return t.hosts.every((h) => sessions.some((s) => s.addr === h.addr));
  }, { timeoutMs: 10_000, intervalMs: 200 }).catch(() => {
    throw new Error(
      `Not every host has a LISTEN session ${when}: ${JSON.stringify(sessions)}\n${t.logs()}`,
    );
  });
  return sessions;
}

/** Starts `worker start` on every host, each serving its own probe queue too. */
function startAll(t: MultihostContext) {
  return Promise.all(t.hosts.map((host) => t.startWorker(host, { args: probeArgs(host) })));
}

multihostTest(
  "PostgreSQL restarted under running workers: all reconnect, no job is lost, pickup is fast again within seconds",
  async (t) => {
    const file = `${t.dir}/events.log`;
    // A restart takes about a second: far within the lease, so no job is rescued for it.
    await configSet(t.db, "lease_timeout", 10);
    await configSet(t.db, "backoff_base", 1);
    await using watch = new AttemptWatch(file);
    const workers = await startAll(t);
    let store: Storage | null = await openStorage(t.db);
    try {
      for (const host of t.hosts) {
        await assertPickupFast(t, store, watch, host, "before the restart");
      }
    } finally {
      await store.close();
      store = null;
    }

    const first = Array.from({ length: 24 }, (_, i) => `before-${i}`);
    await enqueueMany(t.db, first.map((id) => ({ id, command: loggedJob(file, "sleep 2") })));
    await waitFor(() => watch.attempts().filter((x) => x.id.startsWith("before-")).length >= 8, {
      timeoutMs: 20_000,
      message: `jobs to run before the restart\n${t.logs()}`,
    });
    await t.restartServer("fast");
    const restartedAt = Date.now();
    // New work right after the restart, by the real CLI.
    const second = Array.from({ length: 24 }, (_, i) => `after-${i}`);
    await enqueueMany(t.db, second.map((id) => ({ id, command: loggedJob(file, "sleep 0.5") })));

    const jobs = [...first, ...second];
    let counts: Record<string, number> = {};
    await waitFor(async () => {
      watch.poll();
      const ended = new Set(watch.events().filter((e) => e.kind === "end").map((e) => e.id));
      if (!jobs.every((id) => ended.has(id))) return false;
      counts = (await read.status(t.db)).counts;
      return (counts.processing ?? 0) + (counts.pending ?? 0) + (counts.failed ?? 0) === 0;
    }, { timeoutMs: 45_000, intervalMs: 250 }).catch(() => {
      const ended = new Set(watch.events().filter((e) => e.kind === "end").map((e) => e.id));
      throw new Error(
        `Jobs did not all complete after the restart: counts ${JSON.stringify(counts)}; ` +
          `never ended: ${jobs.filter((id) => !ended.has(id)).join(" ")}\n${t.logs()}`,
      );
    });
    const drainedAt = Date.now();

    store = await openStorage(t.db);
    let recovered: Record<string, number>;
    try {
      recovered = await assertPickupRecovers(t, store, watch, drainedAt, 5000, "the drain");
    } finally {
      await store.close();
    }
    await watch.close();
    for (const w of workers) assert.equal(w.exited(), false, `a worker exited\n${w.log()}`);
    assert.deepEqual(findOverlaps(watch.attempts()), []);
    const final = await status(t.db);
    assert.equal(final.counts.processing, 0, JSON.stringify(final.counts));
    assert.equal(final.counts.pending + final.counts.failed + final.counts.dead, 0);
    for (const id of jobs) assert.equal((await read.job(t.db, id)).state, "completed", id);
    console.log(
      `restart at ${restartedAt}; backlog drained ${drainedAt - restartedAt} ms later; ` +
        `pickup fast again ${JSON.stringify(recovered)} ms after the drain`,
    );
  },
);

multihostTest(
  "the LISTEN backends terminated by the server: pickup is fast again within seconds",
  async (t) => {
    const file = `${t.dir}/events.log`;
    await using watch = new AttemptWatch(file);
    await startAll(t);
    await using store = await openStorage(t.db);
    for (const host of t.hosts) await assertPickupFast(t, store, watch, host, "at first");

    const sessions = await assertEveryHostListens(t, "at first");
    const [row] = await t.admin(
      "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM unnest($1::int[]) AS pid",
      [sessions.map((s) => s.pid)],
    );
    const terminatedAt = Date.now();
    assert.equal(Number(row!.n), sessions.length);
    const recovered = await assertPickupRecovers(
      t,
      store,
      watch,
      terminatedAt,
      5000,
      "pg_terminate_backend",
    );
    const again = await assertEveryHostListens(t, "after pg_terminate_backend");
    assert.ok(again.every((s) => !sessions.some((old) => old.pid === s.pid)));
    console.log(
      `LISTEN sessions ${JSON.stringify(sessions.map((s) => s.app))} terminated; ` +
        `pickup fast again after ${JSON.stringify(recovered)} ms`,
    );
  },
);

multihostTest(
  "a LISTEN connection lost without a word (no error, no notifications): pickup is fast again within seconds",
  async (t) => {
    const [a] = t.hosts as [Host];
    const file = `${t.dir}/events.log`;
    await using watch = new AttemptWatch(file);
    await startAll(t);
    await using store = await openStorage(t.db);
    await assertPickupFast(t, store, watch, a, "at first");
    const sessions = (await assertEveryHostListens(t, "at first")).filter((s) => s.addr === a.addr);

    // With host A's link down, end the server's side of its LISTEN
    // connection: the reset is lost on the dead link, so once the link is
    // back host A's socket still looks open, and nothing will ever arrive.
    await t.cut(a);
    const lostAt = Date.now();
    try {
      for (const s of sessions) {
        const out = await new Deno.Command("ss", {
          args: ["-K", "-t", "dst", s.addr, "dport", "=", String(s.port)],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
      }
      await waitFor(async () => {
        const now = await listenSessions(t);
        return sessions.every((s) => !now.some((n) => n.pid === s.pid));
      }, { timeoutMs: 5000, message: "the server to end host A's LISTEN backend" });
      await delay(200);
    } finally {
      await t.restore(a);
    }
    // The loss is silent: host A's side of the connection still looks open.
    const open = await new Deno.Command("ip", {
      args: ["netns", "exec", a.ns, "ss", "-H", "-tn", "state", "established"],
      stdout: "piped",
    }).output();
    const openText = new TextDecoder().decode(open.stdout);
    for (const s of sessions) {
      assert.ok(
        openText.includes(`${s.addr}:${s.port} `),
        `host A's LISTEN socket (port ${s.port}) did not stay open: the loss was not silent\n${openText}`,
      );
    }
    const { okSince, samples } = await pickupRecovery(store, watch, a, lostAt + 10_000);
    assert.ok(
      okSince !== null,
      `host A: pickup did not return to ≤ ${PICKUP_OK_MS} ms within 10 s of losing its LISTEN ` +
        `connection silently: samples ${
          samples.map((s) => (s === Infinity ? "never" : s)).join(", ")
        } ms\n${t.logs()}`,
    );
    await assertPickupFast(t, store, watch, a, "after the silent loss");
    console.log(`silent LISTEN loss on host A: pickup fast again after ${okSince - lostAt} ms`);
  },
);
