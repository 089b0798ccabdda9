/**
 * `/jobs`: jobs newest first, filtered by state and queue, searched by id or
 * command, paged by cursor; and the "scheduled" view (`state=scheduled`):
 * pending jobs not due yet, soonest first, each with "Run now".
 */
// deno-lint-ignore-file jsx-key -- rendered once to a string on the server, where
// hono would print `key` as an attribute; there is no client-side diffing to help.
import { type Job, JOB_STATES, type JobState } from "../../lib/job.ts";
import type { Stats } from "../../lib/stats.ts";
import { JobTable, Pager } from "./_parts.tsx";
import { BulkBar, type BulkData } from "./bulk.tsx";
import type { PageView } from "./layout.tsx";

/** The filters in force, as read from the query string. */
export interface JobFilters {
  state: JobState | "scheduled" | undefined;
  queue: string | undefined;
  q: string | undefined;
  /** Tags, comma separated as typed (README "Operating a queue"). */
  tag?: string | undefined;
  /** `older_than`: a duration such as "2h". */
  olderThan?: string | undefined;
}

/** The views a tab leads to: every job, and those waiting for their time. */
function Tabs(props: { filters: JobFilters }) {
  const scheduled = props.filters.state === "scheduled";
  return (
    <nav class="tabs" aria-label="views">
      <a href="/jobs" aria-current={!scheduled && !props.filters.state ? "page" : undefined}>
        All jobs
      </a>
      <a href="/jobs?state=scheduled" aria-current={scheduled ? "page" : undefined}>
        Scheduled
      </a>
      <a
        href="/jobs?state=processing"
        aria-current={props.filters.state === "processing" ? "page" : undefined}
      >
        Running
      </a>
      <a
        href="/jobs?state=held"
        aria-current={props.filters.state === "held" ? "page" : undefined}
      >
        Held
      </a>
    </nav>
  );
}

/** The filter form; a GET form, so a filtered view is a URL to share or bookmark. */
export function JobFilterForm(props: { filters: JobFilters; path?: string; noState?: boolean }) {
  const { filters } = props;
  const path = props.path ?? "/jobs";
  return (
    <form method="get" action={path} class="filters" role="search">
      {props.noState ? "" : (
        <label>
          State
          <select name="state">
            <option value="" selected={!filters.state}>any</option>
            <option value="scheduled" selected={filters.state === "scheduled"}>
              scheduled (not due yet)
            </option>
            {JOB_STATES.map((s) => <option value={s} selected={filters.state === s}>{s}</option>)}
          </select>
        </label>
      )}
      <label>
        Queue
        <input name="queue" value={filters.queue ?? ""} placeholder="any" autocomplete="off" />
      </label>
      <label>
        Tag
        <input name="tag" value={filters.tag ?? ""} placeholder="any" autocomplete="off" />
      </label>
      <label>
        Older than
        <input
          name="older_than"
          value={filters.olderThan ?? ""}
          placeholder="e.g. 2h"
          autocomplete="off"
          size={6}
        />
      </label>
      <label class="grow">
        Search
        <input
          name="q"
          type="search"
          value={filters.q ?? ""}
          placeholder="id or command"
          autocomplete="off"
        />
      </label>
      <div class="filter-buttons">
        <button type="submit" class="primary">Filter</button>
        <a href={path} class="button">Clear</a>
      </div>
    </form>
  );
}

/** What the jobs page shows. */
export interface JobsData {
  jobs: Job[];
  next: string | null;
  params: URLSearchParams;
  back: string;
  now: number;
  filtered: boolean;
  filters: JobFilters;
  stats: Stats;
  /** The filter bar's actions, while a filter is set. */
  bulk: BulkData | null;
  /** The `job_timeout` setting. */
  timeout: number;
}

/** The live part: one page of jobs and the pager. */
export function JobsLive(props: JobsData) {
  const scheduled = props.filters.state === "scheduled";
  return (
    <>
      {props.bulk ? <BulkBar {...props.bulk} /> : ""}
      {scheduled
        ? (
          <p class="muted small">
            Pending jobs whose time has not come (added with a delay or a run-at), soonest first.
            "Run now" makes one due at once.
          </p>
        )
        : ""}
      <JobTable
        jobs={props.jobs}
        now={props.now}
        back={props.back}
        timeout={props.timeout}
        empty={scheduled
          ? "No job is waiting for a later time."
          : props.filtered
          ? "No job matches these filters."
          : "No jobs yet."}
      />
      <Pager path="/jobs" params={props.params} next={props.next} />
    </>
  );
}

/** The jobs page: the tabs and the filter form stay put above the live list. */
export const jobsPage: PageView<JobsData> = {
  title: (data) => data.filters.state === "scheduled" ? "Scheduled jobs" : "Jobs",
  section: "jobs",
  Before: ({ filters }) => (
    <>
      <h1>{filters.state === "scheduled" ? "Scheduled jobs" : "Jobs"}</h1>
      <Tabs filters={filters} />
      <JobFilterForm filters={filters} />
    </>
  ),
  Live: JobsLive,
};
