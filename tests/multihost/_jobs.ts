/**
 * What the multi-host fault tests read back about their jobs: the rows'
 * leases, the attempts as one line each, and waiting for a drain to end.
 */
import { waitFor } from "../_helpers.ts";
import type { MultihostContext } from "../_netns.ts";
import { read } from "../workers/_worker_process.ts";
import type { Attempt } from "./_events.ts";

/** The jobs' rows as the store keeps them (state, owner, lease end in server ms). */
export async function leases(
  t: MultihostContext,
  ids: string[],
): Promise<Map<string, { state: string; worker_id: string | null; lease: number | null }>> {
  const rows = await t.admin(
    "SELECT id, state, worker_id, lease_expires_at FROM jobs WHERE id = ANY($1) ORDER BY id",
    [ids],
  );
  return new Map(rows.map((r) => [r.id as string, {
    state: r.state as string,
    worker_id: r.worker_id as string | null,
    lease: r.lease_expires_at === null ? null : Number(r.lease_expires_at),
  }]));
}

export function show(attempts: Attempt[]): string {
  return attempts.map((a) =>
    `${a.id}#${a.attempt}@${a.host} pid ${a.pid} start ${a.start} end ${a.endLine} gone ${a.goneAt}`
  ).join("\n");
}

/** Polls until every job is `completed`; fails with the counts and the workers' logs. */
export async function waitAllCompleted(t: MultihostContext, n: number, timeoutMs: number) {
  let counts: Record<string, number> = {};
  await waitFor(async () => {
    counts = (await read.status(t.db)).counts;
    return counts.completed === n;
  }, { timeoutMs, intervalMs: 200 }).catch(() => {
    throw new Error(`Not all ${n} jobs completed: ${JSON.stringify(counts)}\n${t.logs()}`);
  });
}
