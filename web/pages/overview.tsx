/** `/`: counts per state, workers and their jobs, throughput, recent jobs, and the add-job form. */
// deno-lint-ignore-file jsx-key -- rendered once to a string on the server, where
// hono would print `key` as an attribute; there is no client-side diffing to help.
import type { Config } from "../../lib/config.ts";
import { type Job, JOB_STATES } from "../../lib/job.ts";
import type { WorkerInfo } from "../../lib/storage/storage.ts";
import { formatOffset, type Stats, workersByHost } from "../../lib/stats.ts";
import { jobPath, JobTable, Time } from "./_parts.tsx";
import type { PageView } from "./layout.tsx";

/** One bar of the throughput chart. */
export interface ThroughputPoint {
  at: string;
  completed: number;
  failed: number;
}

/** What the overview shows. */
export interface OverviewData {
  stats: Stats;
  series: ThroughputPoint[];
  bucketMs: number;
  recent: Job[];
  now: number;
  /** The settings in force: the add-job form's placeholders. */
  config: Config;
}

/** Counts per state, each a link to the jobs in that state. */
function Counts(props: { stats: Stats }) {
  return (
    <section class="counts" aria-label="jobs per state">
      {JOB_STATES.map((state) => (
        <a class={`count-card state-${state}`} href={`/jobs?state=${state}`}>
          <span class="n" data-count={state}>{props.stats.counts[state]}</span>
          <span class="label">{state === "dead" ? "dead (DLQ)" : state}</span>
        </a>
      ))}
    </section>
  );
}

function WorkerRow(props: { worker: WorkerInfo; now: number }) {
  const w = props.worker;
  const host = `${w.role === "dashboard" ? "in a dashboard, " : ""}pid ${w.pid}`;
  return (
    <li class="worker">
      <div>
        <strong>{w.id}</strong>{" "}
        <span class="muted">
          {host}, {w.count} slot{w.count === 1 ? "" : "s"}
          {w.queues ? `, queues ${w.queues.join(", ")}` : ""}, started{" "}
          <Time iso={w.started_at} now={props.now} />, heartbeat{" "}
          <Time iso={w.heartbeat_at} now={props.now} />
        </span>
        {w.late ? <span class="badge state-dead" title="no heartbeat for a while">late</span> : ""}
        {w.stop_requested ? <span class="badge state-failed">stopping</span> : ""}
      </div>
      <div class="worker-jobs">
        {w.current_jobs.length === 0
          ? <span class="muted">idle</span>
          : w.current_jobs.map((id) => <a class="badge state-processing" href={jobPath(id)}>{id}
          </a>)}
      </div>
    </li>
  );
}

/** A small bar chart of finished attempts per bucket: completed up, failed stacked on top. */
export function ThroughputChart(props: { series: ThroughputPoint[]; bucketMs: number }) {
  const { series } = props;
  const max = Math.max(1, ...series.map((p) => p.completed + p.failed));
  const width = 300;
  const height = 60;
  const slot = width / Math.max(1, series.length);
  const total = series.reduce((sum, p) => sum + p.completed + p.failed, 0);
  const minutes = Math.round((series.length * props.bucketMs) / 60_000);
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${total} attempts finished in the last ${minutes} minutes`}
      >
        <line x1="0" y1={height - 0.5} x2={width} y2={height - 0.5} class="axis" />
        {series.map((p, i) => {
          const ok = (p.completed / max) * (height - 2);
          const bad = (p.failed / max) * (height - 2);
          const x = i * slot + slot * 0.1;
          const w = slot * 0.8;
          return (
            <g>
              <title>{`${p.at.slice(11, 19)}: ${p.completed} completed, ${p.failed} failed`}</title>
              <rect class="bar-ok" x={x} y={height - ok} width={w} height={ok} />
              <rect class="bar-bad" x={x} y={height - ok - bad} width={w} height={bad} />
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span>{minutes} min ago</span>
        {total === 0 ? <span>nothing finished in the last {minutes} min</span> : (
          <span>
            <span class="key ok">completed</span> <span class="key bad">failed</span> · peak {max}
            {" "}
            per {props.bucketMs / 1000} s
          </span>
        )}
        <span>now</span>
      </figcaption>
    </figure>
  );
}

/** The live part of the overview. */
export function OverviewLive(props: OverviewData) {
  const { stats, now } = props;
  const t = stats.throughput;
  return (
    <>
      <Counts stats={stats} />
      <div class="columns">
        <section class="card">
          <h2>Workers</h2>
          {stats.workers.length === 0
            ? (
              <p class="empty">
                No worker is running. Start one with <code>queuectl worker start</code>{" "}
                or run the dashboard with <code>--workers 1</code>.
              </p>
            )
            : (
              workersByHost(stats.workers).map((h) => (
                <div class="host">
                  <h3 class="small">
                    {/* The host id adds the boot and pid namespace; the hostname reads better. */}
                    <span title={h.host}>{h.host.split(":")[0]}</span>{" "}
                    <span class="muted">clock {formatOffset(h.clock_offset_ms)}</span>
                  </h3>
                  <ul class="workers">
                    {h.workers.map((w) => <WorkerRow worker={w} now={now} />)}
                  </ul>
                </div>
              ))
            )}
          <p class="muted small">
            Next retry: {stats.next_retry_at !== null && Date.parse(stats.next_retry_at) <= now
              ? <span>due now, waiting for a free worker</span>
              : <Time iso={stats.next_retry_at} now={now} empty="none scheduled" />}
          </p>
        </section>
        <section class="card">
          <h2>Throughput</h2>
          <p class="small">
            <strong>{t.completed}</strong> completed, <strong>{t.failed}</strong> failed in the last
            {" "}
            {t.window_s} s ({t.per_second}/s)
          </p>
          <ThroughputChart series={props.series} bucketMs={props.bucketMs} />
        </section>
      </div>
      <section class="card">
        <h2>
          Recent jobs <a class="small" href="/jobs">all jobs »</a>
        </h2>
        <JobTable
          jobs={props.recent}
          now={now}
          back="/"
          timeout={props.config.job_timeout}
          empty="No jobs yet. Add one below."
        />
      </section>
    </>
  );
}

/** The form that adds a job; defaults shown are the current settings. */
export function AddJobForm(props: { config: Config }) {
  return (
    <section class="card">
      <h2>Add a job</h2>
      <form method="post" action="/api/jobs" id="add-job" class="add-job" data-async data-reset>
        <input type="hidden" name="return" value="/" />
        <label class="wide">
          Command
          <input
            name="command"
            required
            autocomplete="off"
            spellcheck={false}
            placeholder="echo hello"
          />
        </label>
        <label>
          ID
          <input name="id" autocomplete="off" placeholder="generated" />
        </label>
        <label>
          Queue
          <input name="queue" autocomplete="off" placeholder="default" />
        </label>
        <label>
          Priority
          <input name="priority" type="number" step="1" placeholder="0" />
        </label>
        <label>
          Delay
          <input name="delay" autocomplete="off" placeholder="now, or 30s, 5m" />
        </label>
        <label>
          Max retries
          <input
            name="max_retries"
            type="number"
            min="0"
            max="100"
            step="1"
            placeholder={String(props.config.max_retries)}
          />
        </label>
        <label>
          Timeout (s)
          <input
            name="timeout"
            type="number"
            min="0"
            step="any"
            placeholder={String(props.config.job_timeout)}
          />
        </label>
        <label>
          After
          <input
            name="after"
            autocomplete="off"
            placeholder="ids: a, b"
            title="ids of jobs that must complete first, separated by commas or spaces"
          />
        </label>
        <label>
          Key
          <input name="key" autocomplete="off" placeholder="none" />
        </label>
        <div class="wide submit-row">
          <button type="submit" class="primary">Add job</button>
          {/* The answer appears here, beside the button pressed (assets/app.js). */}
          <p class="form-status" role="status" aria-live="polite" data-form-status></p>
        </div>
      </form>
    </section>
  );
}

/** The overview: the add-job form stays put below the live region. */
export const overviewPage: PageView<OverviewData> = {
  title: "Overview",
  section: "overview",
  Live: OverviewLive,
  After: ({ config }) => <AddJobForm config={config} />,
};
