/**
 * How a drain or a pickup knows its jobs are done, where its database may
 * also hold finished jobs from long ago (scenario 7's backlog to prune).
 */
import type { BenchDb } from "./_store.ts";

/**
 * How a scenario counts its own completed jobs. `jobs`: the `completed` count
 * that `status` shows. `runs`: the succeeded runs finished after time 0, for a
 * database that also holds finished jobs whose runs all started and finished
 * at 0 (scenario 7): the completed count includes those until the pruner
 * deletes them, and their runs would be the first `started_at`.
 */
export type Counted = "jobs" | "runs";

/** A `WHERE` clause of `runs` that keeps the scenario's own runs (`runs_finished` indexes it). */
export function ownRuns(counted: Counted): string {
  return counted === "runs" ? "WHERE finished_at > 0" : "";
}

/** The scenario's completed jobs in `db`, counted as `counted` says. */
export async function completedCount(db: BenchDb, counted: Counted): Promise<number> {
  if (counted === "jobs") return (await db.counts()).completed ?? 0;
  const [r] = await db.all(
    "SELECT count(*) AS n FROM runs WHERE finished_at > 0 AND outcome = 'succeeded'",
  );
  return r!.n as number;
}
