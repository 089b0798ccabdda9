/**
 * Runs on SQLite: an attempt's process details, output snapshots and
 * finish, written in batches by the completer; its output; and the
 * finished-run figures of `status` and the dashboard. A finish applies only
 * while the job is still `processing` by that worker and attempt, so a late
 * result cannot overwrite a rescued job; process details and output go only
 * to a run not yet finished. Each export is the `Storage` method of its
 * name (documented there).
 */
import type { RunOutcome, RunOutput } from "../../job.ts";
import { text } from "../_rows.ts";
import type {
  ClaimParams,
  FinishedCount,
  RecordResult,
  RunFinish,
  RunOutputUpdate,
  RunStart,
} from "../storage.ts";
import { claim } from "./claim.ts";
import { promise, type SqliteDb, type WakeKind } from "./connection.ts";
import { type Ended, settleDependents } from "./flow.ts";

function recordStarts(db: SqliteDb, starts: RunStart[]): void {
  for (const s of starts) {
    db.run(
      `UPDATE runs SET host = ?, pgid = ?, proc_start = ?
       WHERE job_id = ? AND attempt = ? AND worker_id = ? AND finished_at IS NULL`,
      s.host,
      s.pgid,
      s.procStart,
      s.id,
      s.attempt,
      s.workerId,
    );
  }
}

function recordOutputs(db: SqliteDb, updates: RunOutputUpdate[]): void {
  for (const u of updates) {
    db.run(
      `UPDATE runs SET stdout = ?, stderr = ?
       WHERE job_id = ? AND attempt = ? AND worker_id = ? AND finished_at IS NULL`,
      u.stdout,
      u.stderr,
      u.id,
      u.attempt,
      u.workerId,
    );
  }
}

/**
 * Writes finishes; says which wake file to touch: `jobs` when a job can
 * run again or a dependent was unblocked, `ends` when jobs only ended.
 */
function recordFinishes(
  db: SqliteDb,
  finishes: RunFinish[],
  now: number = db.now(),
): { applied: string[]; wake: WakeKind | null } {
  const applied: string[] = [];
  let wake: WakeKind | null = null;
  const ended: Ended[] = [];
  for (const f of finishes) {
    const changed = db.run(
      `UPDATE jobs SET state = ?, next_run_at = ?, updated_at = ?, last_error = ?,
         lease_expires_at = NULL, cancel_requested = 0,
         attempts = attempts - ?
       WHERE id = ? AND state = 'processing' AND worker_id = ? AND attempts = ?
         AND (? = 0 OR lease_expires_at < ?)`,
      f.state,
      f.nextRunAt,
      f.finishedAt,
      f.outcome === "succeeded" ? null : f.error,
      f.uncountAttempt ? 1 : 0,
      f.id,
      f.workerId,
      f.attempt,
      f.ifLeaseExpired ? 1 : 0,
      now,
    );
    if (changed === 0) continue;
    applied.push(f.id);
    if (f.state === "completed" || f.state === "dead" || f.state === "cancelled") {
      ended.push({ id: f.id, state: f.state, error: f.outcome === "succeeded" ? null : f.error });
      wake ??= "ends";
    } else {
      wake = "jobs";
    }
    db.run(
      `UPDATE runs SET finished_at = ?, outcome = ?, exit_code = ?, signal = ?, error = ?,
         stdout = coalesce(?, stdout), stderr = coalesce(?, stderr)
       WHERE seq = (SELECT max(seq) FROM runs WHERE job_id = ? AND attempt = ?)`,
      f.finishedAt,
      f.outcome,
      f.exitCode,
      f.signal,
      f.error,
      f.stdout,
      f.stderr,
      f.id,
      f.attempt,
    );
  }
  if (ended.length > 0 && settleDependents(db, ended, finishes[0]!.finishedAt) > 0) {
    wake = "jobs";
  }
  return { applied, wake };
}

export function runStartMany(db: SqliteDb, params: { starts: RunStart[] }): Promise<void> {
  return promise(() => {
    if (params.starts.length > 0) db.write(() => recordStarts(db, params.starts), null);
  });
}

export function runOutputUpdateMany(
  db: SqliteDb,
  params: { updates: RunOutputUpdate[] },
): Promise<void> {
  return promise(() => {
    if (params.updates.length > 0) db.write(() => recordOutputs(db, params.updates), null);
  });
}

export function runFinishMany(
  db: SqliteDb,
  params: { finishes: RunFinish[]; now?: number | undefined },
): Promise<string[]> {
  if (params.finishes.length === 0) return Promise.resolve([]);
  return promise(() =>
    db.write(() => recordFinishes(db, params.finishes, params.now ?? db.now()), (r) => r.wake)
      .applied
  );
}

export function runRecordMany(db: SqliteDb, params: {
  starts: RunStart[];
  outputs: RunOutputUpdate[];
  finishes: RunFinish[];
  claim?: ClaimParams | undefined;
}): Promise<RecordResult> {
  const { starts, outputs, finishes, claim: claimParams } = params;
  if (starts.length + outputs.length + finishes.length === 0 && !claimParams) {
    return Promise.resolve({ applied: [], claimed: [] });
  }
  // One transaction: a finish and the claim that refills its slot cost one commit.
  return promise(() => {
    const { applied, claimed } = db.write(() => {
      recordStarts(db, starts);
      recordOutputs(db, outputs);
      const finished = recordFinishes(db, finishes);
      return { ...finished, claimed: claimParams ? claim(db, claimParams) : [] };
    }, (r) => r.wake);
    return { applied, claimed };
  });
}

export function runOutputGet(
  db: SqliteDb,
  params: { id: string; attempt?: number | undefined; run?: number | undefined },
): Promise<RunOutput | null> {
  return promise(() =>
    db.read(() => {
      const row = params.run !== undefined
        ? db.get(
          "SELECT attempt, stdout, stderr FROM runs WHERE job_id = ? ORDER BY seq LIMIT 1 OFFSET ?",
          params.id,
          params.run - 1,
        )
        : params.attempt === undefined
        ? db.get(
          "SELECT attempt, stdout, stderr FROM runs WHERE job_id = ? ORDER BY seq DESC LIMIT 1",
          params.id,
        )
        : db.get(
          `SELECT attempt, stdout, stderr FROM runs WHERE job_id = ? AND attempt = ?
         ORDER BY seq DESC LIMIT 1`,
          params.id,
          params.attempt,
        );
      if (!row) return null;
      return {
        id: params.id,
        attempt: row.attempt as number,
        stdout: text(row.stdout),
        stderr: text(row.stderr),
      };
    })
  );
}

export function runFinishedCounts(
  db: SqliteDb,
  params: { since: number; bucketMs: number },
): Promise<FinishedCount[]> {
  return promise(() =>
    db.read(() =>
      db.all(
        `SELECT CAST((finished_at - ?) / ? AS INTEGER) AS bucket,
         count(*) FILTER (WHERE outcome = 'succeeded') AS completed,
         count(*) FILTER (WHERE outcome <> 'succeeded') AS failed
       FROM runs WHERE finished_at IS NOT NULL AND finished_at >= ? GROUP BY bucket`,
        params.since,
        Math.max(1, Math.round(params.bucketMs)),
        params.since,
      ).map((row) => ({
        bucket: row.bucket as number,
        completed: row.completed as number,
        failed: row.failed as number,
      }))
    )
  );
}

export function runTotals(
  db: SqliteDb,
): Promise<{ outcome: RunOutcome; count: number; duration_ms_sum: number }[]> {
  return promise(() =>
    db.read(() =>
      db.all(
        `SELECT outcome, count(*) AS count, sum(finished_at - started_at) AS duration_ms_sum
       FROM runs WHERE finished_at IS NOT NULL GROUP BY outcome ORDER BY outcome`,
      ).map((row) => ({
        outcome: row.outcome as RunOutcome,
        count: row.count as number,
        duration_ms_sum: (row.duration_ms_sum as number | null) ?? 0,
      }))
    )
  );
}
