/** `/jobs/:id`: every field of one job, every attempt and its captured output. */
// deno-lint-ignore-file jsx-key -- rendered once to a string on the server, where
// hono would print `key` as an attribute; there is no client-side diffing to help.
import type { JobLink, JobWithRuns, Run, RunOutput } from "../../lib/job.ts";
import type { Stats } from "../../lib/stats.ts";
import { JobActions, jobPath, StateBadge, Time } from "./_parts.tsx";
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
}

function Field(props: { name: string; value: unknown }) {
  const v = props.value;
  const shown = v === null || v === undefined
    ? <span class="muted">-</span>
    : typeof v === "object"
    ? <code>{JSON.stringify(v)}</code>
    : String(v);
  return (
    <>
      <dt>{props.name}</dt>
      <dd>{shown}</dd>
    </>
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
      <dl class="fields">
        <Field name="key" value={job.key} />
        <Field
          name="retry_on"
          value={job.retry_on === null ? null : job.retry_on.join(", ")}
        />
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
  return (
    <details class="attempt" open={props.latest} data-key={`run-${props.index}`}>
      <summary>
        <strong>Attempt {run.attempt}</strong>{" "}
        <StateBadge state={state} label={run.outcome ?? "running"} />{" "}
        <span class="muted">
          started <Time iso={run.started_at} now={props.now} />
          {run.duration_ms === null ? "" : `, ${run.duration_ms} ms`}
          {exit ? `, ${exit}` : ""}
          {run.worker_id ? ` on ${run.worker_id}` : ""}
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

/** The live part of the job page. */
export function JobLive(props: JobPageData) {
  const { job, now } = props;
  const { runs, dependencies: _d, dependents: _e, ...fields } = job;
  const hidden = outputRuns(runs);
  return (
    <>
      {/* data-running: app.js refreshes this page on its own while the job runs. */}
      <div class="job-head" data-running={job.state === "processing" ? "true" : undefined}>
        <h1>
          Job <span class="id">{job.id}</span> <StateBadge state={job.state} />
        </h1>
        <JobActions job={job} back={jobPath(job.id)} />
        <HoldActions job={job} />
      </div>
      <pre class="command">{job.command}</pre>
      {job.last_error ? <p class="error-text">Last error: {job.last_error}</p> : ""}
      {job.after === null && job.dependents.length === 0 && job.key === null &&
          job.retry_on === null
        ? ""
        : <Flow job={job} />}
      <section class="card">
        <h2>Fields</h2>
        <dl class="fields">
          {Object.entries(fields).map(([name, value]) => <Field name={name} value={value} />)}
        </dl>
      </section>
      <section class="card">
        <h2>Attempts ({runs.length})</h2>
        {runs.length === 0 ? <p class="empty">Not run yet.</p> : runs.map((run, index) => (
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
