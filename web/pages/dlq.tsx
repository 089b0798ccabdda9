/** `/dlq`: the dead letter queue, with each job's last error; retry one, retry all, purge. */
import type { Job } from "../../lib/job.ts";
import type { Stats } from "../../lib/stats.ts";
import { ConfirmButton, JobTable, Pager } from "./_parts.tsx";
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
  /** The `job_timeout` setting. */
  timeout: number;
}

function plural(n: number): string {
  return `${n} dead job${n === 1 ? "" : "s"}`;
}

/** The live part of the DLQ page; both bulk actions ask first, naming the count. */
export function DlqLive(props: DlqData) {
  const { dead } = props;
  return (
    <>
      <div class="job-head">
        <h1>
          Dead letter queue <span class="muted">({dead})</span>
        </h1>
        {dead > 0
          ? (
            <div class="actions">
              <ConfirmButton
                id={`retry-all-${dead}`}
                label={`Retry all ${dead}…`}
                question={`Put ${plural(dead)} back to pending, attempts reset? They run again.`}
                action="/api/dlq/retry"
                confirm={`Retry ${plural(dead)}`}
                back="/dlq"
              />
              <ConfirmButton
                id={`purge-${dead}`}
                label="Purge…"
                question={`Delete ${
                  plural(dead)
                } with their attempts and output? This cannot be undone.`}
                action="/api/dlq/purge"
                confirm={`Delete ${plural(dead)}`}
                back="/dlq"
              />
            </div>
          )
          : ""}
      </div>
      <p class="muted small">
        Jobs that failed on every attempt. Retrying puts a job back to pending with its attempts
        reset; purging deletes them for good.
      </p>
      {props.bulk ? <BulkBar {...props.bulk} /> : ""}
      <JobTable
        jobs={props.jobs}
        now={props.now}
        back="/dlq"
        timeout={props.timeout}
        errors
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
