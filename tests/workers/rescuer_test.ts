/**
 * The rescuer: expired leases are rescued by one rescuer at a time across
 * hosts (the store's turn); a dead supervisor of this host is rescued by any
 * rescuer here, at once, turn or not.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/config.ts";
import { tryParseJobInput } from "../../lib/job_input.ts";
import { SqliteStorage } from "../../lib/storage/sqlite/store.ts";
import type { SupervisorEvent } from "../../workers/events.ts";
import { Rescuer } from "../../workers/rescuer.ts";
import { pidSpace } from "../../lib/host_id.ts";
import { processStartTime } from "../../workers/process_group.ts";
import { withTempDb } from "../_helpers.ts";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 0);
const LEASE = 30_000;

async function claimed(store: SqliteStorage, id: string, workerId: string): Promise<void> {
  await store.jobInsertMany({ jobs: [tryParseJobInput({ id, command: "true" }, T0)!], now: T0 });
  const [job] = await store.jobClaim({ workerId, queues: null, limit: 1, now: T0, leaseMs: LEASE });
  assert.equal(job?.id, id);
}

function rescuer(store: SqliteStorage, host: string, selfId: string, events: SupervisorEvent[]) {
  return new Rescuer({ store, host, selfId, onEvent: (e) => events.push(e) });
}

Deno.test("only the rescuer holding the turn rescues expired leases", async () => {
  await using tmp = await withTempDb();
  await using store = SqliteStorage.open(tmp.db);
  const config = defaultConfig();
  await store.workerRegister({ id: "w-far", pid: 1, host: "far", count: 1, queues: null, now: T0 });
  await claimed(store, "j1", "w-far");
  const events: SupervisorEvent[] = [];
  const a = rescuer(store, "host-a", "w-a", events);
  const b = rescuer(store, "host-b", "w-b", events);
  const late = T0 + LEASE + 1;
  assert.equal(await a.runOnce(late - 2000, config), 0, "the lease has not expired yet");
  // a took the turn above and keeps it: b finds nothing to do.
  assert.equal(await b.runOnce(late, config), 0);
  assert.equal((await store.jobGet({ id: "j1" }))?.state, "processing");
  assert.equal(await a.runOnce(late, config), 1);
  assert.equal((await store.jobGet({ id: "j1" }))?.state, "failed");
  assert.deepEqual(events.map((e) => e.type), ["job:rescued"]);
});

Deno.test("a rescuer without the turn still rescues a dead supervisor of its own host", async () => {
  await using tmp = await withTempDb();
  await using store = SqliteStorage.open(tmp.db);
  const config = defaultConfig();
  // A pid that cannot be alive: the supervisor on this host is gone.
  await store.workerRegister({
    id: "w-dead",
    pid: 2 ** 22 + 1,
    host: "here",
    count: 1,
    queues: null,
    now: T0,
  });
  await claimed(store, "j1", "w-dead");
  const events: SupervisorEvent[] = [];
  assert.equal(
    await store.turnTake({ holder: "w-elsewhere", now: T0, ttlMs: 60_000 }),
    true,
  );
  const here = rescuer(store, "here", "w-here", events);
  assert.equal(await here.runOnce(T0 + 1000, config), 1, "rescued at once, lease or not");
  const job = await store.jobGetWithRuns({ id: "j1" });
  assert.equal(job?.state, "failed");
  assert.match(job?.runs[0]?.error ?? "", /worker w-dead died/);
});

Deno.test("a worker of this host id registered from another pid space is left to its lease, not judged by its pid", async () => {
  await using tmp = await withTempDb();
  await using store = SqliteStorage.open(tmp.db);
  const config = defaultConfig();
  // Another machine given this host id: its pid means nothing here.
  await store.workerRegister({
    id: "w-twin",
    pid: 2 ** 22 + 1,
    host: "here",
    count: 1,
    queues: null,
    now: T0,
    procStart: "12345",
    pidSpace: "00000000:1",
  });
  await claimed(store, "j1", "w-twin");
  const events: SupervisorEvent[] = [];
  const here = rescuer(store, "here", "w-here", events);
  assert.equal(await here.runOnce(T0 + 1000, config), 0, "not rescued while its lease holds");
  assert.equal((await store.jobGet({ id: "j1" }))?.state, "processing");
  assert.equal(await here.runOnce(T0 + LEASE + 1, config), 1, "rescued once the lease expired");
  const job = await store.jobGetWithRuns({ id: "j1" });
  assert.match(job?.runs[0]?.error ?? "", /lease of worker w-twin expired/);
});

Deno.test("a worker of this pid space whose pid now runs another process is dead: rescued at once", async () => {
  await using tmp = await withTempDb();
  await using store = SqliteStorage.open(tmp.db);
  const config = defaultConfig();
  // This very pid, registered with another start time: a reused pid, not the worker.
  await store.workerRegister({
    id: "w-reused",
    pid: Deno.pid,
    host: "here",
    count: 1,
    queues: null,
    now: T0,
    procStart: String(Number(processStartTime(Deno.pid)) - 1),
    pidSpace: pidSpace(),
  });
  await claimed(store, "j1", "w-reused");
  const events: SupervisorEvent[] = [];
  const here = rescuer(store, "here", "w-here", events);
  assert.equal(await here.runOnce(T0 + 1000, config), 1);
  const job = await store.jobGetWithRuns({ id: "j1" });
  assert.match(job?.runs[0]?.error ?? "", /worker w-reused died/);
});
