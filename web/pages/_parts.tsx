/** Pieces shared by the dashboard's pages. Every value goes through JSX, which escapes it. */
import type { Child } from "hono/jsx";
import { relativeTime } from "../../lib/relative_time.ts";
import type { Job, JobState } from "../../lib/job.ts";
import { canCancel, canRetry } from "../../lib/state.ts";

/** The path of a job's page. */
export function jobPath(id: string): string {
  return `/jobs/${encodeURIComponent(id)}`;
}

/** A state as a coloured badge. */
export function StateBadge(props: { state: JobState | null; label?: string }) {
  const state = props.state ?? "processing";
  return <span class={`badge state-${state}`}>{props.label ?? props.state ?? "running"}</span>;
}

/** A time shown relative to now, with the exact time on hover. */
export function Time(props: { iso: string | null; now: number; empty?: string }) {
  if (props.iso === null) return <span class="muted">{props.empty ?? "-"}</span>;
  return <time datetime={props.iso} title={props.iso}>{relativeTime(props.iso, props.now)}</time>;
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

/** The retry and cancel buttons a job's state allows (the rules of `lib/state.ts`). */
export function JobActions(props: { job: Job; back: string }) {
  const { job, back } = props;
  const base = `/api${jobPath(job.id)}`;
  const buttons: Child[] = [];
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

/** A table of jobs, newest first, with their actions. */
export function JobTable(props: { jobs: Job[]; now: number; back: string; empty: string }) {
  if (props.jobs.length === 0) return <p class="empty">{props.empty}</p>;
  return (
    <div class="table-wrap">
      <table class="jobs">
        <thead>
          <tr>
            <th>ID</th>
            <th>State</th>
            <th class="num">Tries</th>
            <th class="num hide-narrow">Pri</th>
            <th class="hide-narrow">Queue</th>
            <th>Updated</th>
            <th>Command</th>
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
                <StateBadge state={job.state} />
              </td>
              <td class="num tries">{job.attempts}</td>
              <td class="num hide-narrow">{job.priority}</td>
              <td class="hide-narrow">{job.queue}</td>
              <td
                class="updated"
                data-tries={` · ${job.attempts} ${job.attempts === 1 ? "try" : "tries"}`}
              >
                <Time iso={job.updated_at} now={props.now} />
              </td>
              <td class="command">
                <code title={job.command}>{job.command}</code>
              </td>
              <td class="act">
                <JobActions job={job} back={props.back} />
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
      {params.has("cursor") ? <a href={firstHref}>« Newest</a> : <span />}
      {next ? <a href={`${path}?${older}`} rel="next">Older »</a> : <span />}
    </nav>
  );
}
