/**
 * `/queues`: every queue with its jobs by state (held ones too), how it keeps
 * up (the age of its oldest waiting job, held ones left out: they wait on
 * purpose; attempts finished lately), pause or resume, its
 * concurrency limit and flow control (rate, per group). A card per queue on a phone.
 */
import { isoTime } from "../../lib/job.ts";
import { formatRate } from "../../lib/options.ts";
import type { Stats } from "../../lib/stats.ts";
import type { QueueHealth, QueueInfo } from "../../lib/storage/storage.ts";
import { ActionButton, Time } from "./_parts.tsx";
import type { PageView } from "./layout.tsx";

/** What the queues page shows. */
export interface QueuesData {
  queues: QueueInfo[];
  /** How each queue keeps up, by name (absent: nothing waits or finished lately). */
  health: Map<string, QueueHealth>;
  /** The span of the throughput column. */
  windowMs: number;
  now: number;
  stats: Stats;
}

/** The path of a queue's API actions. */
export function queueApiPath(name: string): string {
  return `/api/queues/${encodeURIComponent(name)}`;
}

const NO_HEALTH = { scheduled: 0, oldest_due_at: null, completed: 0, failed: 0 };

/** A count that links to the queue's jobs in that state (or view). */
function Count(
  props: { queue: string; state: string; label: string; n: number; always?: boolean },
) {
  const href = `/jobs?state=${props.state}&queue=${encodeURIComponent(props.queue)}`;
  return (
    <td
      data-col={props.label}
      data-label={props.label}
      class={props.n === 0 && !props.always ? "num zero" : "num"}
    >
      {props.n === 0 ? <span class="muted">0</span> : <a href={href}>{props.n}</a>}
    </td>
  );
}

/** One of a queue's limit forms: a single field posted to `<queue api>/<path>`. */
function LimitForm(
  props: {
    queue: string;
    path: string;
    name: string;
    value: string;
    label: string;
    button: string;
    type?: "text";
    placeholder?: string;
    title?: string;
  },
) {
  return (
    <form
      method="post"
      action={`${queueApiPath(props.queue)}/${props.path}`}
      class="limit-form"
      data-async
    >
      <input type="hidden" name="return" value="/queues" />
      {props.type === "text"
        ? (
          <input
            type="text"
            name={props.name}
            value={props.value}
            placeholder={props.placeholder}
            title={props.title}
            aria-label={props.label}
            class="limit rate"
          />
        )
        : (
          <input
            type="number"
            name={props.name}
            min="0"
            step="1"
            value={props.value}
            aria-label={props.label}
            class="limit"
          />
        )}
      <button type="submit">{props.button}</button>
    </form>
  );
}

function QueueRow(
  props: { q: QueueInfo; health: QueueHealth | undefined; minutes: number; now: number },
) {
  const { q, now } = props;
  const h = props.health ?? { name: q.name, ...NO_HEALTH };
  const waiting = q.counts.pending - h.scheduled;
  const finished = h.completed + h.failed;
  const perMin = finished / props.minutes;
  return (
    <tr data-queue={q.name}>
      <td class="id name" data-label="Queue">
        <a href={`/jobs?queue=${encodeURIComponent(q.name)}`}>{q.name}</a>{" "}
        <span data-col="state">
          {q.paused
            ? <span class="badge state-pending">paused</span>
            : <span class="badge state-completed">active</span>}
        </span>
      </td>
      <Count queue={q.name} state="pending" label="waiting" n={waiting} always />
      <Count queue={q.name} state="scheduled" label="scheduled" n={h.scheduled} />
      <Count queue={q.name} state="blocked" label="blocked" n={q.counts.blocked} />
      <Count queue={q.name} state="held" label="held" n={q.counts.held} />
      <Count queue={q.name} state="processing" label="running" n={q.running} />
      <Count queue={q.name} state="failed" label="failed" n={q.counts.failed} />
      <Count queue={q.name} state="dead" label="dead" n={q.counts.dead} />
      <Count queue={q.name} state="completed" label="completed" n={q.counts.completed} />
      <td
        data-col="latency"
        data-label="oldest waiting"
        class={h.oldest_due_at === null ? "num zero" : "num"}
      >
        {h.oldest_due_at === null
          ? <span class="muted">-</span>
          : <Time iso={isoTime(h.oldest_due_at)} now={now} fmt="elapsed" />}
      </td>
      <td
        data-col="throughput"
        data-label="per min"
        class={finished === 0 ? "num zero" : "num"}
        title={`${h.completed} completed, ${h.failed} failed in the last ${props.minutes} min`}
      >
        {finished === 0
          ? <span class="muted">0</span>
          : perMin < 10
          ? perMin.toFixed(1)
          : Math.round(perMin)}
      </td>
      <td data-col="limit" data-label="limit" class="num">
        {q.concurrency === 0 ? "none" : q.concurrency}
      </td>
      <td data-col="flow" data-label="flow">{flowText(q)}</td>
      <td class="act">
        <div class="actions">
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
          <LimitForm
            queue={q.name}
            path="concurrency"
            name="concurrency"
            value={String(q.concurrency)}
            label={`concurrency limit of ${q.name}`}
            button="Set limit"
          />
          <LimitForm
            queue={q.name}
            path="rate"
            name="rate"
            type="text"
            value={q.rate ? formatRate({ limit: q.rate.limit, periodMs: q.rate.period_ms }) : ""}
            label={`rate limit of ${q.name}`}
            button="Set rate"
            placeholder="10/1s"
            title="N/PERIOD, e.g. 10/1s or 600/1m; empty or off for none"
          />
          <LimitForm
            queue={q.name}
            path="group-concurrency"
            name="group_concurrency"
            value={String(q.group_concurrency)}
            label={`group concurrency of ${q.name}`}
            button="Set per group"
          />
        </div>
      </td>
    </tr>
  );
}

/**
 * The live part of the queues page; `data-poll` refreshes it every second
 * (settings changed elsewhere move no count). A limit being typed survives
 * each refresh (`assets/app.js`).
 */
export function QueuesLive(props: QueuesData) {
  const minutes = Math.round(props.windowMs / 60_000);
  return (
    <div data-poll>
      <h1>
        Queues <span class="muted">({props.queues.length})</span>
      </h1>
      <p class="muted small">
        A paused queue starts nothing (running jobs finish; jobs can still be added). A limit caps
        how many of its jobs run at once across every worker and host; 0 means no limit. Oldest
        waiting: how long its longest-waiting due job has waited. Per min: attempts finished over
        the last {minutes}{" "}
        min. Rate: at most N starts in any window (e.g. 10/1s; empty for none). Per group: how many
        jobs of one group run at once (0: no limit).
      </p>
      {props.queues.length === 0
        ? <p class="empty">No queues yet: a queue appears with its first job or setting.</p>
        : (
          <div class="table-wrap" data-scroll-hint>
            <table class="queues cards">
              <thead>
                <tr>
                  <th>Queue</th>
                  <th class="num">Waiting</th>
                  <th class="num">Scheduled</th>
                  <th class="num">Blocked</th>
                  <th class="num" title="held by an operator: never started until released">
                    Held
                  </th>
                  <th class="num">Running</th>
                  <th class="num">Failed</th>
                  <th class="num">Dead</th>
                  <th class="num">Done</th>
                  <th class="num">Oldest waiting</th>
                  <th class="num">Per min</th>
                  <th class="num">Limit</th>
                  <th title="starts in the window / rate limit; per group: running jobs per group">
                    Flow
                  </th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {props.queues.map((q) => (
                  <QueueRow
                    q={q}
                    health={props.health.get(q.name)}
                    minutes={minutes}
                    now={props.now}
                  />
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
