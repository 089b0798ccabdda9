/** Starting `queuectl worker start` for a scenario and knowing when it is up. */
import type { BenchContext } from "./_context.ts";
import { openDb } from "./_db.ts";
import { type Background, sleep, spawn } from "./_process.ts";
import type { BenchDb } from "./_store.ts";

/** How long a worker process may take to register in the store. */
const START_TIMEOUT_MS = 20_000;

/**
 * Starts `queuectl worker start --count <count>` on `db` (a SQLite file, or
 * any store's {@linkcode BenchDb}) and waits until its
 * process has registered in the `workers` table, then `settleMs` more for
 * its Web Workers to be up. Throws with the worker's stderr if it exits first.
 */
export async function startWorkers(
  ctx: BenchContext,
  db: string | BenchDb,
  count: number,
  settleMs = 500,
): Promise<Background> {
  const location = typeof db === "string" ? db : db.location;
  const path = typeof db === "string" ? db : db.path;
  const args = ["worker", "start", "--count", String(count), ...(ctx.seed?.workerArgs ?? [])];
  const worker = spawn(ctx.cli.argv(args), { db: location });
  let exited: number | null = null;
  worker.child.status.then((s) => exited = s.code);
  const deadline = performance.now() + START_TIMEOUT_MS;
  try {
    for (;;) {
      if (exited !== null) {
        const line = worker.stderr().trim().split("\n").filter(Boolean).pop() ?? "";
        throw new Error(`worker start --count ${count} exited ${exited} at start: ${line}`);
      }
      const up = path !== null
        ? registered(path, worker.pid)
        : await registeredIn(db as BenchDb, worker.pid);
      if (up) break;
      if (performance.now() > deadline) {
        throw new Error(`worker start --count ${count} did not register within 20 s`);
      }
      await sleep(20);
    }
    await sleep(settleMs);
    return worker;
  } catch (error) {
    await worker.stop("SIGKILL", 5000);
    throw error;
  }
}

function registered(db: string, pid: number): boolean {
  try {
    Deno.statSync(db); // opening a missing file would create it

    using conn = openDb(db);
    return conn.prepare("SELECT 1 AS ok FROM workers WHERE pid = ?").get(pid) !== undefined;
  } catch {
    return false; // not created yet, or locked by the migration
  }
}

/** The same check through a store's own connection (PostgreSQL). */
async function registeredIn(db: BenchDb, pid: number): Promise<boolean> {
  try {
    return (await db.all(`SELECT 1 AS ok FROM workers WHERE pid = ${pid}`)).length > 0;
  } catch {
    return false;
  }
}

/** Stops a worker the way a user does (SIGTERM) and checks it exits 0. */
export async function stopWorkers(worker: Background): Promise<string> {
  const { code, ms } = await worker.stop("SIGTERM", 30_000);
  if (code === 0) return "";
  const line = worker.stderr().trim().split("\n").filter(Boolean).pop() ?? "";
  return `worker exited ${code === -1 ? "only to SIGKILL" : code} after SIGTERM (${
    ms.toFixed(0)
  } ms)${line ? `: ${line}` : ""}`;
}
