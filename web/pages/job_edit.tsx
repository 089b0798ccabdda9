/**
 * The job page's operator controls (README "Operating a queue"): hold or
 * release, and the edit form of a job that is not running and not final.
 * The form stays put below the live region, so a refresh never wipes what
 * is being typed; the store refuses an edit once the job has started.
 */
import type { Job } from "../../lib/job.ts";
import { canEdit, canHold, canRelease } from "../../lib/state.ts";
import { ActionButton, jobPath } from "./_parts.tsx";

/** Hold or Release, as the job's state allows. */
export function HoldActions(props: { job: Job }) {
  const base = `/api${jobPath(props.job.id)}`;
  const back = jobPath(props.job.id);
  if (canHold(props.job.state)) {
    return <ActionButton action={`${base}/hold`} label="Hold" back={back} />;
  }
  if (canRelease(props.job.state)) {
    return <ActionButton action={`${base}/release`} label="Release" back={back} kind="primary" />;
  }
  return "";
}

/** The edit form of a waiting job; nothing for a running or final one. */
export function EditForm(props: { job: Job }) {
  const { job } = props;
  if (!canEdit(job.state)) return "";
  const env = job.env === null
    ? ""
    : Object.entries(job.env).map(([k, v]) => `${k}=${v}`).join("\n");
  return (
    <details class="card edit" data-key="edit">
      <summary>Edit this job</summary>
      <form method="post" action={`/api${jobPath(job.id)}/edit`} class="edit-form" data-async>
        <input type="hidden" name="return" value={jobPath(job.id)} />
        <label class="wide">
          Command
          <input name="command" value={job.command} autocomplete="off" />
        </label>
        <label>
          Priority
          <input name="priority" value={String(job.priority)} inputmode="numeric" />
        </label>
        <label>
          Queue
          <input name="queue" value={job.queue} autocomplete="off" />
        </label>
        <label>
          Run at
          <input name="run_at" value="" placeholder="ISO time; empty: unchanged" />
        </label>
        <label>
          Max retries
          <input
            name="max_retries"
            value={job.max_retries === null ? "" : String(job.max_retries)}
          />
        </label>
        <label>
          Timeout (s)
          <input name="timeout" value={job.timeout === null ? "" : String(job.timeout)} />
        </label>
        <label class="wide">
          Tags
          <input name="tags" value={job.tags?.join(", ") ?? ""} placeholder="comma separated" />
        </label>
        <label class="wide">
          Environment
          <textarea name="env" rows={3} placeholder="NAME=VALUE, one a line">{env}</textarea>
        </label>
        <div class="filter-buttons">
          <button type="submit" class="primary">Save changes</button>
        </div>
      </form>
    </details>
  );
}
