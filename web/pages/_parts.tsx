/** Pieces shared by the dashboard's pages. Every value goes through JSX, which escapes it. */
import type { Child } from "hono/jsx";
import { relativeTime } from "../../lib/relative_time.ts";
import type { Job, JobState } from "../../lib/job.ts";
import { canCancel, canRetry, canRunNow } from "../../lib/state.ts";

/** The path of a job's page. */
export function jobPath(id: string): string {
  return `/jobs/${encodeURIComponent(id)}`;
}

/** Whether a job waits for a due time still ahead (pending, delayed): the "scheduled" view. */
export function isDelayed(job: Job, now: number): boolean {
  return job.state === "pending" && job.next_run_at !== null && Date.parse(job.next_run_at) > now;
}

/** A state as a coloured badge. */
export function StateBadge(props: { state: JobState | null; label?: string }) {
  const state = props.state ?? "processing";
  return <span class={`badge state-${state}`}>{props.label ?? props.state ?? "running"}</span>;
}

/** A job's badge: a delayed pending job reads "scheduled", so it does not look ready to run. */
export function JobBadge(props: { job: Job; now: number }) {
  const { job } = props;
  if (isDelayed(job, props.now)) {
    return <span class="badge state-scheduled" title="pending, not due yet">scheduled</span>;
  }
  return <StateBadge state={job.state} />;
}

/** A duration in words: "45 s", "3 min 5 s", "2 h 10 min". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  const min = Math.floor(s / 60) % 60;
  return `${Math.floor(s / 3600)} h${min ? ` ${min} min` : ""}`;
}

/** How a {@linkcode Time} reads: the time and how far off, how far off only, or time since. */
export type TimeFormat = "both" | "rel" | "elapsed";

/** An instant as UTC for a tooltip: `2026-12-08 01:38:04 UTC`. */
export function utcText(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/**
 * A time. The server writes UTC (it does not know the reader's zone);
 * `assets/time.js` rewrites the text in the browser's zone, with the
 * relative time beside it, and keeps it current. UTC stays on hover.
 */
export function Time(
  props: { iso: string | null; now: number; empty?: string; fmt?: TimeFormat; title?: string },
) {
  const { iso, now } = props;
  if (iso === null) return <span class="muted">{props.empty ?? "-"}</span>;
  const fmt = props.fmt ?? "both";
  const text = fmt === "rel"
    ? relativeTime(iso, now)
    : fmt === "elapsed"
    ? duration(now - Date.parse(iso))
    : `${iso.slice(0, 16).replace("T", " ")} UTC · ${relativeTime(iso, now)}`;
  return (
    <time datetime={iso} title={props.title ?? utcText(iso)} data-fmt={fmt}>
      {text}
    </time>
  );
}

/**
 * A running job's time so far against its timeout (0: none), with one bar:
 * the progress the job reports (README "Progress") when it has reported
 * any, else the time used of its timeout, which the script moves.
 */
export function Elapsed(
  props: {
    since: string;
    timeout: number;
    now: number;
    progress?: number | null;
    message?: string | null;
  },
) {
  const { since, timeout, now } = props;
  const progress = props.progress ?? null;
  const limit = timeout > 0
    ? <>{" "}of {duration(timeout * 1000)}</>
    : <span class="muted">, no timeout</span>;
  if (progress !== null) {
    const note = props.message ? `${progress}%: ${props.message}` : `${progress}%`;
    return (
      <span class="elapsed">
        running <Time iso={since} now={now} fmt="elapsed" />
        {limit}
        <progress
          class="job-progress"
          max="100"
          value={String(progress)}
          title={note}
          aria-label="progress reported by the job"
        />
        <span class="progress-note">
          {progress}% done{props.message ? <>: {props.message}</> : ""}
        </span>
      </span>
    );
  }
  return (
    <span class="elapsed">
      running <Time iso={since} now={now} fmt="elapsed" />
      {limit}
      {timeout > 0
        ? (
          <progress
            max={String(timeout)}
            value={String(Math.min(timeout, Math.max(0, (now - Date.parse(since)) / 1000)))}
            data-start={since}
            aria-label="time used of the timeout"
          />
        )
        : ""}
    </span>
  );
}

/** What waits, runs or ended when, by state: the "When" of a job in a list. */
export function JobWhen(props: { job: Job; now: number; timeout: number }) {
  const { job, now } = props;
  switch (job.state) {
    case "pending":
      return (
        <>
          {isDelayed(job, now) ? "runs " : "due "}
          <Time iso={job.next_run_at} now={now} />
        </>
      );
    case "blocked":
      return <span class="muted">waits for its dependencies</span>;
    case "held":
      return (
        <span class="muted">
          held <Time iso={job.updated_at} now={now} />
        </span>
      );
    case "processing":
      return (
        <Elapsed
          since={job.updated_at}
          timeout={job.timeout ?? props.timeout}
          now={now}
          progress={job.progress}
          message={job.progress_message}
        />
      );
    case "failed":
      return (
        <>
          retry <Time iso={job.next_run_at} now={now} />
        </>
      );
    default:
      return <Time iso={job.updated_at} now={now} />;
  }
}

/** A POST button that works without script (a form) and with it (fetch, no reload). */
export function ActionButton(
  props: { action: string; label: string; back: string; kind?: "danger" | "primary" },
) {
  return (
    <form method="post" action={props.action} class="inline" data-async>
      <input type="hidden" name="return" value={props.back} />
      <button type="submit" class={props.kind ?? ""}>{props.label}</button>
    </form>
  );
}

/**
 * A button that asks first, without script: a disclosure whose panel says
 * what will happen and holds the real button. Kept open across live updates
 * by its `data-key`.
 */
export function ConfirmButton(
  props: {
    id: string;
    label: string;
    question: string;
    action: string;
    confirm: string;
    back: string;
  },
) {
  return (
    <details class="confirm" data-key={props.id}>
      <summary class="button danger">{props.label}</summary>
      <div class="confirm-panel">
        <p>{props.question}</p>
        <ActionButton action={props.action} label={props.confirm} back={props.back} kind="danger" />
      </div>
    </details>
  );
}

/** The buttons a job's state allows: retry, cancel (the rules of `lib/state.ts`), run now. */
export function JobActions(props: { job: Job; back: string; now: number }) {
  const { job, back } = props;
  const base = `/api${jobPath(job.id)}`;
  const buttons: Child[] = [];
  if (canRunNow(job.state) && isDelayed(job, props.now)) {
    buttons.push(
      <ActionButton action={`${base}/run`} label="Run now" back={back} kind="primary" />,
    );
  }
  if (canRetry(job.state)) {
    buttons.push(
      <ActionButton action={`${base}/retry`} label="Retry" back={back} kind="primary" />,
    );
  }
  if (canCancel(job.state)) {
    buttons.push(
      <ActionButton action={`${base}/cancel`} label="Cancel" back={back} kind="danger" />,
    );
  }
  return <div class="actions">{buttons}</div>;
}

/** What a {@linkcode JobTable} shows. */
export interface JobTableProps {
  jobs: Job[];
  now: number;
  back: string;
  empty: string;
  /** The `job_timeout` setting: what a job without its own timeout gets. */
  timeout: number;
  /** Show each job's last error (the DLQ). */
  errors?: boolean;
}

/** A table of jobs with their actions; one card per job on a phone. */
export function JobTable(props: JobTableProps) {
  if (props.jobs.length === 0) return <p class="empty">{props.empty}</p>;
  return (
    <div class="table-wrap" data-scroll-hint>
      <table class="jobs">
        <thead>
          <tr>
            <th>ID</th>
            <th>State</th>
            <th class="num">Tries</th>
            <th class="num hide-narrow">Pri</th>
            <th class="hide-narrow">Queue</th>
            <th>When</th>
            <th>{props.errors ? "Last error" : "Command"}</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {props.jobs.map((job) => (
            <tr data-job-id={job.id} data-state={job.state}>
              <td class="id">
                <a href={jobPath(job.id)}>{job.id}</a>
              </td>
              <td class="state">
                <JobBadge job={job} now={props.now} />
              </td>
              <td class="num tries">{job.attempts}</td>
              <td class="num hide-narrow">{job.priority}</td>
              <td class="hide-narrow">{job.queue}</td>
              <td
                class="when"
                data-tries={` · ${job.attempts} ${job.attempts === 1 ? "try" : "tries"}`}
              >
                <JobWhen job={job} now={props.now} timeout={props.timeout} />
              </td>
              {props.errors
                ? (
                  <td class="command error">
                    <code title={`${job.command}\n\n${job.last_error ?? ""}`}>
                      {job.last_error ?? "-"}
                    </code>
                  </td>
                )
                : (
                  <td class="command">
                    <code title={job.command}>{job.command}</code>
                  </td>
                )}
              <td class="act">
                <JobActions job={job} back={props.back} now={props.now} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Older/first-page links for cursor paging. */
export function Pager(props: { path: string; params: URLSearchParams; next: string | null }) {
  const { path, params, next } = props;
  const first = new URLSearchParams(params);
  first.delete("cursor");
  const firstHref = first.size ? `${path}?${first}` : path;
  const older = new URLSearchParams(params);
  if (next) older.set("cursor", next);
  return (
    <nav class="pager" aria-label="pages">
      {params.has("cursor") ? <a href={firstHref}>« First</a> : <span />}
      {next ? <a href={`${path}?${older}`} rel="next">More »</a> : <span />}
    </nav>
  );
}
