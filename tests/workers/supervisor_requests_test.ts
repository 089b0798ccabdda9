/**
 * A supervisor acts on a cancel or stop request as soon as another process
 * commits it (the wake file), not only at its next heartbeat. Heartbeats are
 * set an hour apart here, so whatever happens comes from the wake-up.
 */
import assert from "node:assert/strict";
import { tryParseJobInput } from "../../lib/job_input.ts";
import { openStorage } from "../../lib/storage/open_storage.ts";
import type { Storage } from "../../lib/storage/storage.ts";
import type { SupervisorEvent } from "../../workers/events.ts";
import { Supervisor } from "../../workers/supervisor.ts";
import { storeTest, waitFor } from "../_helpers.ts";

const HOUR_MS = 3_600_000;

/** A supervisor with one slot on `db`, its events collected. */
async function startSupervisor(store: Storage) {
  const events: SupervisorEvent[] = [];
  const supervisor = await Supervisor.start({
    store,
    count: 1,
    queues: null,
    heartbeatMs: HOUR_MS,
    onEvent: (event) => events.push(event),
  });
  return { supervisor, events };
}

/** Adds a job that runs until `gate` exists (at most 20 s). */
async function addGatedJob(store: Storage, id: string, gate: string): Promise<void> {
  const now = Date.now();
  const command = `for i in $(seq 400); do [ -e '${gate}' ] && break; sleep 0.05; done`;
  await store.jobInsertMany({ jobs: [tryParseJobInput({ id, command }, now)!], now });
  await waitFor(async () => (await store.jobGet({ id }))?.state === "processing", {
    message: `${id} to start`,
  });
}

storeTest("a running job cancelled by another process stops before any heartbeat", async (tmp) => {
  await using store = await openStorage(tmp.db, { connections: 3 });
  const { supervisor } = await startSupervisor(store);
  try {
    await addGatedJob(store, "c1", `${tmp.dir}/never`);
    // Another connection, as `queuectl cancel` is.
    await using other = await openStorage(tmp.db);
    const [asked] = await other.jobCancel({ ids: ["c1"], now: Date.now() });
    assert.equal(asked?.state, "processing", "cancel only asks while the job runs");
    await waitFor(async () => (await store.jobGet({ id: "c1" }))?.state === "cancelled", {
      message: "c1 to be cancelled without a heartbeat",
    });
  } finally {
    await supervisor.stop("force");
  }
});

storeTest("a stop request through the database is heard before any heartbeat", async (tmp) => {
  await using store = await openStorage(tmp.db, { connections: 3 });
  const { supervisor, events } = await startSupervisor(store);
  const gate = `${tmp.dir}/gate`;
  try {
    await addGatedJob(store, "s1", gate);
    await using other = await openStorage(tmp.db);
    assert.equal(await other.workerRequestStop({ mode: "graceful" }), 1);
    await waitFor(() => events.some((e) => e.type === "supervisor:stopping"), {
      message: "the supervisor to start stopping",
    });
    // Graceful: the running job finishes first.
    await Deno.writeTextFile(gate, "");
    await supervisor.done;
    assert.equal((await store.jobGet({ id: "s1" }))?.state, "completed");
  } finally {
    await supervisor.stop("force");
  }
});

storeTest(
  "an idle supervisor hears a stop request from another host before any heartbeat",
  async (tmp) => {
    await using store = await openStorage(tmp.db, { connections: 3 });
    const { supervisor } = await startSupervisor(store);
    try {
      // Another host asks through the database: no signal can reach this process.
      await using other = await openStorage(tmp.db);
      await waitFor(async () => (await other.workerListAll()).length === 1, {
        message: "the supervisor to register",
      });
      assert.equal(await other.workerRequestStop({ mode: "graceful" }), 1);
      let stopped = false;
      void supervisor.done.then(() => stopped = true);
      await waitFor(() => stopped, { message: "the idle supervisor to stop" });
      assert.deepEqual(await other.workerListAll(), [], "it left the registry");
    } finally {
      await supervisor.stop("force");
    }
  },
);
