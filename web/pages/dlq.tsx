/** `/dlq`: the dead letter queue, with "retry" per job and "retry all". */
import type { Job } from "../../lib/job.ts";
import type { Stats } from "../../lib/stats.ts";
import { ActionButton, JobTable, Pager } from "./_parts.tsx";
import { BulkBar, type BulkData } from "./bulk.tsx";
import { JobFilterForm, type JobFilters } from "./jobs.tsx";
import type { PageView } from "./layout.tsx";

/** What the DLQ page shows. */
export interface DlqData {
  jobs: Job[];
  dead: number;
  next: string | null;
  params: URLSearchParams;
  now: number;
  stats: Stats;
  filters: JobFilters;
  /** The filter bar's actions, while a filter is set. */
  bulk: BulkData | null;
}

/** The live part of the DLQ page. */
export function DlqLive(props: DlqData) {
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
      {props.bulk ? <BulkBar {...props.bulk} /> : ""}
      <JobTable
        jobs={props.jobs}
        now={props.now}
        back="/dlq"
        empty={props.bulk ? "No dead job matches these filters." : "The DLQ is empty."}
      />
      <Pager path="/dlq" params={props.params} next={props.next} />
    </>
  );
}

/** The DLQ page. */
export const dlqPage: PageView<DlqData> = {
  title: "DLQ",
  section: "dlq",
  Before: ({ filters }) => <JobFilterForm filters={filters} path="/dlq" noState />,
  Live: DlqLive,
};
