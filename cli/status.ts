/** `queuectl status`: counts per state, workers, next retry, throughput, the database. */
import { JOB_STATES } from "../lib/job.ts";
import { formatOffset, readStats, workersByHost } from "../lib/stats.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { relativeTime } from "../lib/relative_time.ts";
import { paint, paintState, rateColumn } from "./_format.ts";

/** Prints the status, as text or as the `status --json` document. */
export async function status(ctx: CliContext, json: boolean): Promise<void> {
  let now = 0;
  const stats = await withStorage(ctx, (store) => readStats(store, now = store.now()));
  if (json) return printJson(ctx, stats);
  const bold = (t: string) => paint(ctx.color, 1, t);
  const total = JOB_STATES.reduce((sum, s) => sum + stats.counts[s], 0);
  ctx.out(`${bold("Database")}     ${stats.db} (${stats.engine})`);
  ctx.out(`${bold("Jobs")}         ${total} in all`);
  for (const state of JOB_STATES) {
    const label = state === "dead" ? "dead (DLQ)" : state;
    const pad = " ".repeat(Math.max(1, 12 - label.length));
    ctx.out(
      `  ${paintState(ctx.color, state)}${label.slice(state.length)}${pad}${stats.counts[state]}`,
    );
  }
  const hosts = workersByHost(stats.workers);
  ctx.out(
    `${bold("Workers")}      ${stats.workers.length} active${
      hosts.length > 1 ? ` on ${hosts.length} hosts` : ""
    }`,
  );
  for (const h of hosts) {
    ctx.out(`  ${h.host}  (clock ${formatOffset(h.clock_offset_ms)})`);
    for (const w of h.workers) {
      const jobs = w.current_jobs.length ? w.current_jobs.join(", ") : "idle";
      const beat = `heartbeat ${relativeTime(w.heartbeat_at, now)}${
        w.late ? paint(ctx.color, 31, " (late)") : ""
      }`;
      ctx.out(`    ${w.id}  pid ${w.pid}, ${w.count} slot(s), ${beat}: ${jobs}`);
    }
  }
  ctx.out(
    `${bold("Next retry")}   ${
      stats.next_retry_at
        ? `${stats.next_retry_at} (${relativeTime(stats.next_retry_at, now)})`
        : "none"
    }`,
  );
  const t = stats.throughput;
  ctx.out(
    `${
      bold("Throughput")
    }   ${t.completed} completed, ${t.failed} failed in the last ${t.window_s} s`,
  );
  if (stats.rate_limits.length > 0) {
    ctx.out(
      `${bold("Rate limits")}  ${
        stats.rate_limits.map((r) => `${r.name} ${rateColumn(r)}`).join(", ")
      }`,
    );
  }
  const hook = stats.webhook;
  if (hook) {
    const waiting = hook.oldest_pending_at
      ? `behind by ${hook.lag_s} s (oldest undelivered event ${hook.oldest_pending_at})`
      : "up to date";
    ctx.out(`${bold("Webhook")}      delivered through seq ${hook.delivered_through}: ${waiting}`);
  }
}
