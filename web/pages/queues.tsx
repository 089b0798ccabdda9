/** `/queues`: every queue with its counts, pause or resume, and its concurrency limit. */
import { formatRate } from "../../lib/options.ts";
import type { Stats } from "../../lib/stats.ts";
import type { QueueInfo } from "../../lib/storage/storage.ts";
import { ActionButton } from "./_parts.tsx";
import type { PageView } from "./layout.tsx";

/** What the queues page shows. */
export interface QueuesData {
  queues: QueueInfo[];
  stats: Stats;
}

/** The path of a queue's API actions. */
export function queueApiPath(name: string): string {
  return `/api/queues/${encodeURIComponent(name)}`;
}

/** The live part of the queues page; `data-poll` refreshes it every second (settings changed elsewhere). */
export function QueuesLive(props: QueuesData) {
  return (
    <div data-poll>
      <h1>
        Queues <span class="muted">({props.queues.length})</span>
      </h1>
      <p class="muted small">
        A paused queue starts nothing (running jobs finish; jobs can still be added). A limit caps
        how many of its jobs run at once across every worker and host; 0 means no limit.
      </p>
      {props.queues.length === 0
        ? <p class="empty">No queues yet: a queue appears with its first job or setting.</p>
        : (
          <div class="table-wrap">
            <table class="queues">
              <thead>
                <tr>
                  <th>Queue</th>
                  <th>Pending</th>
                  <th>Running</th>
                  <th>Failed</th>
                  <th>Completed</th>
                  <th>Dead</th>
                  <th>Cancelled</th>
                  <th>State</th>
                  <th>Limit</th>
                  <th title="starts in the window / rate limit; per group: running jobs per group">
                    Flow
                  </th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {props.queues.map((q) => (
                  <tr data-queue={q.name}>
                    <td class="id">
                      <a href={`/jobs?queue=${encodeURIComponent(q.name)}`}>{q.name}</a>
                    </td>
                    <td data-col="pending">{q.counts.pending}</td>
                    <td data-col="running">{q.running}</td>
                    <td data-col="failed">{q.counts.failed}</td>
                    <td data-col="completed">{q.counts.completed}</td>
                    <td data-col="dead">{q.counts.dead}</td>
                    <td data-col="cancelled">{q.counts.cancelled}</td>
                    <td data-col="state">
                      {q.paused
                        ? <span class="badge state-pending">paused</span>
                        : <span class="badge state-completed">active</span>}
                    </td>
                    <td data-col="limit">{q.concurrency === 0 ? "none" : q.concurrency}</td>
                    <td data-col="flow">{flowText(q)}</td>
                    <td class="actions">
                      {q.paused
                        ? (
                          <ActionButton
                            action={`${queueApiPath(q.name)}/resume`}
                            label="Resume"
                            back="/queues"
                            kind="primary"
                          />
                        )
                        : (
                          <ActionButton
                            action={`${queueApiPath(q.name)}/pause`}
                            label="Pause"
                            back="/queues"
                          />
                        )}
                      <form
                        method="post"
                        action={`${queueApiPath(q.name)}/concurrency`}
                        class="inline"
                        data-async
                      >
                        <input type="hidden" name="return" value="/queues" />
                        <input
                          type="number"
                          name="concurrency"
                          min="0"
                          step="1"
                          value={String(q.concurrency)}
                          aria-label={`concurrency limit of ${q.name}`}
                          class="limit"
                        />
                        <button type="submit">Set limit</button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
    </div>
  );
}

/** The queues page. */
export const queuesPage: PageView<QueuesData> = {
  title: "Queues",
  section: "queues",
  Live: QueuesLive,
};

/** The Flow column (README "Flow control"): `3/5 per 1s, 1 per group`, or `none`. */
function flowText(q: QueueInfo): string {
  const parts: string[] = [];
  if (q.rate) {
    const [limit, period] = formatRate({ limit: q.rate.limit, periodMs: q.rate.period_ms })
      .split("/");
    parts.push(`${q.rate.used}/${limit} per ${period}`);
  }
  if (q.group_concurrency > 0) parts.push(`${q.group_concurrency} per group`);
  return parts.length > 0 ? parts.join(", ") : "none";
}
