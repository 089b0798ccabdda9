/**
 * Periodic maintenance components run beside the supervisor: started once
 * it has registered, woken by commits, stopped (a run in progress awaited)
 * before it unregisters.
 */
import assert from "node:assert/strict";
import { tryParseJobInput } from "../../lib/job_input.ts";
import { SqliteStorage } from "../../lib/storage/sqlite/store.ts";
import type { Maintenance, MaintenanceContext } from "../../workers/maintenance.ts";
import { Supervisor } from "../../workers/supervisor.ts";
import { waitFor, withTempDb } from "../_helpers.ts";

Deno.test("a supervisor starts, wakes and stops its maintenance components around its registration", async () => {
  await using tmp = await withTempDb();
  await using store = SqliteStorage.open(tmp.db);
  const log: string[] = [];
  let context: MaintenanceContext | undefined;
  const component: Maintenance = {
    name: "probe",
    start(ctx) {
      context = ctx;
      void ctx.store.workerListAll().then((ws) =>
        log.push(`start: registered ${ws.some((w) => w.id === ctx.workerId)}`)
      );
    },
    wake() {
      if (!log.includes("wake")) log.push("wake");
    },
    async stop() {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const ws = await store.workerListAll();
      log.push(`stop: registered ${ws.some((w) => w.id === context?.workerId)}`);
    },
  };
  const supervisor = await Supervisor.start({
    store,
    count: 1,
    queues: null,
    heartbeatMs: 3_600_000,
    maintenance: [component],
  });
  await waitFor(() => log.length === 1, { message: "the component to start" });
  assert.equal(context?.workerId, supervisor.id);
  assert.equal(context?.config().max_retries, 3);
  const now = Date.now();
  await store.jobInsertMany({ jobs: [tryParseJobInput({ id: "m1", command: "true" }, now)!], now });
  await waitFor(() => log.includes("wake"), { message: "a commit to wake the component" });
  await supervisor.stop("graceful");
  assert.deepEqual(log, ["start: registered true", "wake", "stop: registered true"]);
  assert.deepEqual(await store.workerListAll(), [], "unregistered after the component stopped");
});
