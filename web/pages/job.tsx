/**
 * `/jobs/:id`: one job. What a reader needs first (state, when it runs or
 * ran, the values that apply) in a compact summary, then every attempt with
 * its output, then its place in a flow.
 */
import type { Child } from "hono/jsx";
import type { Config } from "../../lib/config.ts";
import type { JobLink, JobWithRuns, Run, RunOutput } from "../../lib/job.ts";
import type { Stats } from "../../lib/stats.ts";
import {
  duration,
  Elapsed,
  isDelayed,
  JobActions,
  JobBadge,
  jobPath,
  StateBadge,
  Time,
} from "./_parts.tsx";
import { EditForm, HoldActions } from "./job_edit.tsx";
import type { PageView } from "./layout.tsx";

/** How many of the latest attempts show their output inline (the page route reads only those). */
export const OUTPUT_ATTEMPTS = 10;

/** What the job page shows. */
export interface JobPageData {
  job: JobWithRuns;
  /** Output per index in `job.runs`, for the runs {@linkcode outputRuns} shows. */
  outputs: Map<number, RunOutput>;
  now: number;
  stats: Stats;
  /** The settings: the values that apply where the job sets none. */
  config: Config;
}

function Field(props: { name: string; children?: Child }) {
  return (
    <div class="field">
      <dt>{props.name}</dt>
      <dd>{props.children}</dd>
    </div>
  );
}

function Default(props: { value: string; own: boolean }) {
  return (
    <>
      {props.value}
      {props.own ? "" : (
        <>
          {" "}
          <span class="muted">(default)</span>
        </>
      )}
    </>
  );
}

/** When the job runs, ran, or what it waits for, by state. */
function When(props: { job: JobWithRuns; now: number; timeout: number }) {
  const { job, now } = props;
  switch (job.state) {
    case "pending":
      return isDelayed(job, now)
        ? (
          <Field name="Runs at">
            <Time iso={job.next_run_at} now={now} />
          </Field>
        )
        : (
          <Field name="Due since">
            <Time iso={job.next_run_at} now={now} />
            <span class="muted">(waiting for a free worker)</span>
          </Field>
        );
    case "blocked":
      return <Field name="Runs">when its dependencies complete</Field>;
    case "held":
      return (
        <Field name="Held since">
          <Time iso={job.updated_at} now={now} />
          <span class="muted">(never started until released)</span>
        </Field>
      );
    case "processing":
      return (
        <Field name="Running">
          <Elapsed
            since={job.updated_at}
            timeout={props.timeout}
            now={now}
            progress={job.progress}
            message={job.progress_message}
          />
        </Field>
      );
    case "failed":
      return (
        <Field name="Next retry">
          <Time iso={job.next_run_at} now={now} />
        </Field>
      );
    default:
      return (
        <Field
          name={job.state === "completed"
            ? "Finished"
            : job.state === "dead"
            ? "Died"
            : "Cancelled"}
        >
          <Time iso={job.updated_at} now={now} />
        </Field>
      );
  }
}

/** The fields, compact: two columns on a phone, more on a wide screen. */
function Summary(props: { job: JobWithRuns; now: number; config: Config }) {
  const { job, now, config } = props;
  const maxRetries = job.max_retries ?? config.max_retries;
  const timeout = job.timeout ?? config.job_timeout;
  return (
    <dl class="summary">
      <When job={job} now={now} timeout={timeout} />
      <Field name="Queue">
        <a href={`/jobs?queue=${encodeURIComponent(job.queue)}`}>{job.queue}</a>
      </Field>
      <Field name="Priority">{job.priority}</Field>
      {job.tags
        ? (
          <Field name="Tags">
            {job.tags.map((tag, i) => (
              <>
                {i > 0 ? " " : ""}
                <a href={`/jobs?tag=${encodeURIComponent(tag)}`} class="tag">{tag}</a>
              </>
            ))}
          </Field>
        )
        : ""}
      <Field name="Tries">
        {job.attempts} of {maxRetries + 1}
      </Field>
      <Field name="Max retries">
        <Default value={String(maxRetries)} own={job.max_retries !== null} />
      </Field>
      <Field name="Timeout">
        <Default
          value={timeout === 0 ? "none" : duration(timeout * 1000)}
          own={job.timeout !== null}
        />
      </Field>
      <Field name="Created">
        <Time iso={job.created_at} now={now} />
      </Field>
      <Field name="Updated">
        <Time iso={job.updated_at} now={now} />
      </Field>
      {job.worker_id ? <Field name="Worker">{job.worker_id}</Field> : ""}
      {job.cwd
        ? (
          <Field name="Directory">
            <code>{job.cwd}</code>
          </Field>
        )
        : ""}
      {job.env
        ? (
          <Field name="Environment">
            <code>{Object.entries(job.env).map(([k, v]) => `${k}=${v}`).join(" ")}</code>
          </Field>
        )
        : ""}
    </dl>
  );
}

/** Jobs as state badges linking to their pages; a pruned one is shown as gone. */
function Links(props: { jobs: JobLink[]; empty: string }) {
  if (props.jobs.length === 0) return <p class="muted small">{props.empty}</p>;
  return (
    <ul class="links">
      {props.jobs.map((j) => (
        <li>
          <a href={jobPath(j.id)} class="id">{j.id}</a>{" "}
          <StateBadge state={j.state} label={j.state ?? "gone"} />
        </li>
      ))}
    </ul>
  );
}

/** The job's place in a flow: what it waits for, what waits for it, its key and retry rule. */
function Flow(props: { job: JobWithRuns }) {
  const { job } = props;
  return (
    <section class="card flow">
      <h2>Flow</h2>
      <h3 class="small">Runs after</h3>
      <Links jobs={job.dependencies} empty="no dependencies" />
      <h3 class="small">Waited for by</h3>
      <Links jobs={job.dependents} empty="no dependents" />
      <dl class="summary">
        <Field name="Key">{job.key ?? <span class="muted">none</span>}</Field>
        <Field name="Retried on">
          {job.retry_on === null
            ? <span class="muted">every failure</span>
            : job.retry_on.join(", ")}
        </Field>
      </dl>
    </section>
  );
}

function Output(props: { label: string; text: string }) {
  if (props.text === "") return <p class="muted small">{props.label}: empty</p>;
  return (
    <div class="output">
      <div class="output-label">{props.label}</div>
      <pre>{props.text}</pre>
    </div>
  );
}

/** Why an attempt's output is not shown inline. */
type Hidden = "older" | null;

/**
 * Which runs (by index) show their output inline: the latest
 * {@linkcode OUTPUT_ATTEMPTS}; older ones link to theirs.
 */
export function outputRuns(runs: Run[]): Map<number, Hidden> {
  const shown = new Map<number, Hidden>();
  runs.forEach((_run, i) => shown.set(i, i < runs.length - OUTPUT_ATTEMPTS ? "older" : null));
  return shown;
}

function Attempt(
  props: {
    id: string;
    run: Run;
    index: number;
    output: RunOutput | undefined;
    hidden: Hidden;
    latest: boolean;
    now: number;
  },
) {
  const { run, output } = props;
  const exit = run.exit_code !== null
    ? `exit ${run.exit_code}`
    : run.signal !== null
    ? `signal ${run.signal}`
    : "";
  const state = run.outcome === null
    ? "processing"
    : run.outcome === "succeeded"
    ? "completed"
    : run.outcome === "cancelled"
    ? "cancelled"
    : "failed";
  const host = run.worker_id?.replace(/-\d+-[^-]+$/, "");
  return (
    <details class="attempt" open={props.latest} data-key={`run-${props.index}`}>
      <summary>
        <strong>Attempt {run.attempt}</strong>{" "}
        <StateBadge state={state} label={run.outcome ?? "running"} />{" "}
        <span class="muted">
          started <Time iso={run.started_at} now={props.now} />
          {run.duration_ms === null ? "" : `, took ${duration(run.duration_ms)}`}
          {exit ? `, ${exit}` : ""}
          {run.worker_id ? <span title={run.worker_id}>, on {host}</span> : ""}
        </span>
      </summary>
      {run.error ? <p class="error-text">{run.error}</p> : ""}
      {output
        ? (
          <>
            <Output label="stdout" text={output.stdout} />
            <Output label="stderr" text={output.stderr} />
          </>
        )
        : props.hidden === "older"
        ? (
          <p class="muted small">
            Output: <a href={`/api${jobPath(props.id)}/logs?run=${props.index + 1}`}>as JSON</a>
          </p>
        )
        : <p class="muted small">no output captured</p>}
    </details>
  );
}

/** What the attempts section says when there are none, by state. */
function noRuns(job: JobWithRuns): string {
  if (job.state === "cancelled") return "Never ran: cancelled before it started.";
  if (job.state === "blocked") return "Not run yet: it waits for its dependencies.";
  if (job.state === "held") return "Not run yet: held until released.";
  return "Not run yet.";
}

/** The live part of the job page. */
export function JobLive(props: JobPageData) {
  const { job, now } = props;
  const { runs } = job;
  const hidden = outputRuns(runs);
  return (
    <>
      {/* data-running: app.js refreshes this page on its own while the job runs. */}
      <div class="job-head" data-running={job.state === "processing" ? "true" : undefined}>
        <h1>
          Job <span class="id">{job.id}</span> <JobBadge job={job} now={now} />
        </h1>
        <JobActions job={job} back={jobPath(job.id)} now={now} />
        <HoldActions job={job} />
      </div>
      <pre class="command">{job.command}</pre>
      {job.last_error ? <p class="error-text">Last error: {job.last_error}</p> : ""}
      <section class="card">
        <Summary job={job} now={now} config={props.config} />
      </section>
      <section class="card">
        <h2>Attempts ({runs.length})</h2>
        {runs.length === 0 ? <p class="empty">{noRuns(job)}</p> : runs.map((run, index) => (
          <Attempt
            id={job.id}
            run={run}
            index={index}
            output={props.outputs.get(index)}
            hidden={hidden.get(index) ?? null}
            latest={index === runs.length - 1}
            now={now}
          />
        )).reverse()}
      </section>
      {job.after === null && job.dependents.length === 0 && job.key === null &&
          job.retry_on === null
        ? ""
        : <Flow job={job} />}
    </>
  );
}

/** The job page. */
export const jobPage: PageView<JobPageData> = {
  title: (data) => `Job ${data.job.id}`,
  section: "jobs",
  Live: JobLive,
  After: ({ job }) => <EditForm job={job} />,
};
