/** `/dlq`: the dead letter queue, with "retry" per job and "retry all". */
import type { Job } from "../../lib/job.ts";
import { ActionButton, JobTable, Pager } from "./_parts.tsx";

/** The live part of the DLQ page. */
export function DlqLive(
  props: { jobs: Job[]; dead: number; next: string | null; params: URLSearchParams; now: number },
) {
  return (
    <>
      <div class="job-head">
        <h1>
          Dead letter queue <span class="muted">({props.dead})</span>
        </h1>
        {props.dead > 0
          ? (
            <ActionButton
              action="/api/dlq/retry"
              label={`Retry all ${props.dead}`}
              back="/dlq"
              kind="primary"
            />
          )
          : ""}
      </div>
      <p class="muted small">
        Jobs that failed on every attempt. Retrying puts a job back to pending with its attempts
        reset.
      </p>
      <JobTable jobs={props.jobs} now={props.now} back="/dlq" empty="The DLQ is empty." />
      <Pager path="/dlq" params={props.params} next={props.next} />
    </>
  );
}
