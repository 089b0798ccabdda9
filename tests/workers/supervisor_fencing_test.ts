/**
 * Fencing: a supervisor that cannot renew its leases ends its running jobs
 * before the lease can expire for other hosts, claims nothing meanwhile,
 * records the attempt `interrupted` once the store answers again, and goes
 * on without a restart. The store is cut off in-process here; the
 * multi-host tests cut a real network link.
 */
import assert from "node:assert/strict";
import { StorageError } from "../../lib/errors.ts";
import { tryParseJobInput } from "../../lib/job_input.ts";
import { SqliteStorage } from "../../lib/storage/sqlite/store.ts";
import type { Storage } from "../../lib/storage/storage.ts";
import { processAlive } from "../../workers/process_group.ts";
import { fencePlan, Supervisor } from "../../workers/supervisor.ts";
import { waitFor, withTempDb } from "../_helpers.ts";

/** `store` with a switch that makes every call fail, as a lost server does. */
function cuttable(store: Storage): { store: Storage; offline: boolean } {
  const state = { offline: false, store: undefined as unknown as Storage };
  state.store = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function" || key === "now" || key === "watchChanges") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (...args: unknown[]) =>
        state.offline
          ? Promise.reject(new StorageError("Cannot reach the database (cut off by the test)"))
          : value.apply(target, args);
    },
  });
  return state;
}

async function addJob(store: Storage, id: string, command: string): Promise<void> {
  const now = Date.now();
  await store.jobInsertMany({ jobs: [tryParseJobInput({ id, command }, now)!], now });
}

Deno.test("fencePlan() ends a job with SIGKILL a margin before its lease expires", () => {
  assert.deepEqual(fencePlan(30_000), { fenceAfterMs: 21_000, graceMs: 3000 });
  const short = fencePlan(2000);
  assert.ok(short.fenceAfterMs > 0 && short.fenceAfterMs + short.graceMs < 2000, "2 s lease");
});

Deno.test("a supervisor cut off from its store ends its jobs before their leases expire", async () => {
  await using tmp = await withTempDb();
  await using store = SqliteStorage.open(tmp.db);
  await store.configSet({ key: "lease_timeout", value: 5 });
  await store.configSet({ key: "backoff_base", value: 1 });
  const cut = cuttable(store);
  const supervisor = await Supervisor.start({ store: cut.store, count: 2, queues: null });
  try {
    const pidFile = `${tmp.dir}/f1.pid`;
    await addJob(
      store,
      "f1",
      `[ "$QUEUECTL_ATTEMPT" = 1 ] || exit 0; echo $$ > ${pidFile}; sleep 60`,
    );
    const pid = await waitFor(async () => {
      const text = await Deno.readTextFile(pidFile).catch(() => "");
      return text.trim() ? Number(text) : null;
    }, { message: "f1 to start" });

    cut.offline = true;
    // Another process adds a job meanwhile: a supervisor that cannot renew claims nothing.
    await addJob(store, "f2", "true");
    await waitFor(() => !processAlive(pid), { timeoutMs: 8000, message: "f1 to be fenced" });
    const stranded = await store.jobListStranded({ now: Date.now(), workerIds: [] });
    assert.deepEqual(stranded.map((j) => j.id), [], "the lease had not expired when f1 ended");
    assert.equal((await store.jobGet({ id: "f2" }))?.state, "pending", "no claim while cut off");

    cut.offline = false;
    const f1 = await waitFor(async () => {
      const job = await store.jobGetWithRuns({ id: "f1" });
      return job?.state === "completed" ? job : null;
    }, { timeoutMs: 15_000, message: "f1 to be retried after the store returns" });
    assert.deepEqual(f1.runs.map((r) => r.outcome), ["interrupted", "succeeded"]);
    assert.match(f1.runs[0]!.error ?? "", /could not renew its lease/);
    await waitFor(async () => (await store.jobGet({ id: "f2" }))?.state === "completed", {
      message: "f2 to run once the store answers again",
    });
  } finally {
    cut.offline = false;
    await supervisor.stop("force");
  }
});
