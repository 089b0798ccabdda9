/** `/metrics`: the Prometheus text exposition format, as a pure function of what the store reports. */
import { JOB_STATES, RUN_OUTCOMES, type RunOutcome } from "../lib/job.ts";
import type { Stats } from "../lib/stats.ts";
import type { QueueHealth, QueueInfo } from "../lib/storage/storage.ts";

/** Totals per outcome, as {@linkcode Storage.runTotals} returns them. */
export type RunTotals = { outcome: RunOutcome; count: number; duration_ms_sum: number }[];

/** The content type of the Prometheus text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function metric(name: string, type: string, help: string, samples: [string, number][]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  return lines.join("\n");
}

/**
 * Seconds each queue's oldest due job has waited at `now` (0 when none
 * waits), for every known queue, by name.
 */
export function queueLatency(
  queues: QueueInfo[],
  health: QueueHealth[],
  now: number,
): [string, number][] {
  const oldest = new Map(health.map((h) => [h.name, h.oldest_due_at]));
  const names = [...new Set([...queues.map((q) => q.name), ...oldest.keys()])].sort();
  return names.map((name) => {
    const due = oldest.get(name) ?? null;
    return [name, due === null ? 0 : Math.max(0, now - due) / 1000];
  });
}

/** A label value, escaped as the text format wants. */
function label(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/**
 * Renders jobs per state, attempts and durations by outcome, workers and
 * slots, and each queue's latency (from {@linkcode queueLatency}).
 */
export function renderMetrics(
  stats: Stats,
  totals: RunTotals,
  latency: [string, number][] = [],
): string {
  const byOutcome = new Map(totals.map((t) => [t.outcome, t]));
  const outcomes = RUN_OUTCOMES.map((outcome) => ({
    outcome,
    count: byOutcome.get(outcome)?.count ?? 0,
    seconds: (byOutcome.get(outcome)?.duration_ms_sum ?? 0) / 1000,
  }));
  const failures = outcomes.filter((o) => o.outcome !== "succeeded")
    .reduce((sum, o) => sum + o.count, 0);
  const nextRetry = stats.next_retry_at === null ? 0 : Date.parse(stats.next_retry_at) / 1000;
  return [
    metric(
      "queuectl_jobs",
      "gauge",
      "Jobs per state.",
      JOB_STATES.map((s) => [`{state="${s}"}`, stats.counts[s]]),
    ),
    metric(
      "queuectl_attempts_total",
      "counter",
      "Finished attempts by outcome.",
      outcomes.map((o) => [`{outcome="${o.outcome}"}`, o.count]),
    ),
    metric(
      "queuectl_attempt_failures_total",
      "counter",
      "Finished attempts that did not succeed.",
      [["", failures]],
    ),
    [
      "# HELP queuectl_attempt_duration_seconds Run time of finished attempts by outcome.",
      "# TYPE queuectl_attempt_duration_seconds summary",
      ...outcomes.flatMap((o) => [
        `queuectl_attempt_duration_seconds_sum{outcome="${o.outcome}"} ${o.seconds}`,
        `queuectl_attempt_duration_seconds_count{outcome="${o.outcome}"} ${o.count}`,
      ]),
    ].join("\n"),
    metric("queuectl_workers", "gauge", "Live worker processes.", [["", stats.workers.length]]),
    metric(
      "queuectl_worker_slots",
      "gauge",
      "Jobs the live workers can run at once.",
      [["", stats.workers.reduce((sum, w) => sum + w.count, 0)]],
    ),
    metric(
      "queuectl_next_retry_timestamp_seconds",
      "gauge",
      "When the next scheduled retry is due (0 if none).",
      [["", nextRetry]],
    ),
    metric(
      "queuectl_queue_latency_seconds",
      "gauge",
      "How long the oldest due job of each queue has waited to start (0 if none waits).",
      latency.map(([name, seconds]) => [`{queue="${label(name)}"}`, seconds]),
    ),
  ].join("\n") + "\n";
}
