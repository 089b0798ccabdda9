/**
 * What the fencing tests (DESIGN.md, "Fencing") share: the jobs' rows read
 * as the admin, a wait until every job has settled, and the final check
 * that no two attempts of a job overlapped and that nothing was lost.
 */
import assert from "node:assert/strict";
import type { MultihostContext } from "../_netns.ts";
import { waitFor } from "../_helpers.ts";
import { type Attempt, type AttemptWatch, findOverlaps } from "./_events.ts";

/** One job's row as the store keeps it (times in server ms). */
export interface JobRow {
  id: string;
  state: string;
  attempts: number;
  worker_id: string | null;
  lease: number | null;
}

/** The rows of `ids`, by id. */
export async function jobRows(t: MultihostContext, ids: string[]): Promise<Map<string, JobRow>> {
  const rows = await t.admin(
    `SELECT id, state, attempts, worker_id, lease_expires_at FROM jobs
     WHERE id = ANY($1) ORDER BY id`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id as string, {
    id: r.id as string,
    state: r.state as string,
    attempts: Number(r.attempts),
    worker_id: r.worker_id as string | null,
    lease: r.lease_expires_at === null ? null : Number(r.lease_expires_at),
  }]));
}

/** The server's clock, in epoch ms. */
export async function serverMs(t: MultihostContext): Promise<number> {
  const [row] = await t.admin("SELECT (extract(epoch FROM clock_timestamp()) * 1000) AS ms");
  return Number(row!.ms);
}

/** The given states count as settled (default: completed only). */
export async function waitSettled(
  t: MultihostContext,
  ids: string[],
  timeoutMs: number,
  settled: string[] = ["completed"],
): Promise<Map<string, JobRow>> {
  let rows = new Map<string, JobRow>();
  await waitFor(async () => {
    rows = await jobRows(t, ids);
    return ids.every((id) => settled.includes(rows.get(id)?.state ?? ""));
  }, { timeoutMs, intervalMs: 250 }).catch(() => {
    const open = ids.filter((id) => !settled.includes(rows.get(id)?.state ?? ""))
      .map((id) => JSON.stringify(rows.get(id) ?? id));
    throw new Error(`Jobs not ${settled.join("/")} in time: ${open.join(" ")}\n${t.logs()}`);
  });
  return rows;
}

/** Every attempt, one line each, for failure messages. */
export function showAttempts(attempts: Attempt[]): string {
  return attempts.map((a) =>
    `${a.id}#${a.attempt}@${a.host} pid ${a.pid} start ${a.start} end ${a.endLine} gone ${a.goneAt}`
  ).join("\n");
}

/**
 * The end of every fencing test: after the watch's last look, no two
 * attempts of a job ran at once, and each job of `ids` ran to its end
 * (an end line) at least once.
 */
export async function assertOnceAtATime(
  t: MultihostContext,
  watch: AttemptWatch,
  ids: string[],
): Promise<Attempt[]> {
  await watch.close();
  const attempts = watch.attempts();
  assert.deepEqual(findOverlaps(attempts), [], `${showAttempts(attempts)}\n${t.logs()}`);
  const ended = new Set(attempts.filter((a) => a.endLine !== null).map((a) => a.id));
  const lost = ids.filter((id) => !ended.has(id));
  assert.deepEqual(lost, [], `jobs that never ran to their end\n${showAttempts(attempts)}`);
  return attempts;
}
