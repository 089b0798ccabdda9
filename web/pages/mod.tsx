/**
 * The pages as functions from data to HTML text, for `handler.ts` (which is
 * plain TypeScript). Each page has a full form and a live form: the live
 * form is the region `assets/app.js` swaps in when the data changes.
 */
import type { Config } from "../../lib/config.ts";
import type { Job } from "../../lib/job.ts";
import type { Stats } from "../../lib/stats.ts";
import { DlqLive } from "./dlq.tsx";
import { JobLive, type JobPageData } from "./job.tsx";
import { JobFilterForm, type JobFilters, JobsLive } from "./jobs.tsx";
import { Layout, Live } from "./layout.tsx";
import { MESSAGE_STYLE_HASH, MessagePage } from "./message.tsx";
import { AddJobForm, type OverviewData, OverviewLive } from "./overview.tsx";
import { QueuesLive } from "./queues.tsx";
import type { QueueInfo } from "../../lib/storage/storage.ts";
import type { ScheduleView } from "../../lib/schedule.ts";
import { SchedulesLive } from "./schedules.tsx";

export type { OverviewData, ThroughputPoint } from "./overview.tsx";

/** The Content-Security-Policy of every response: our own files only, nothing inline. */
export const csp = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'self' ${MESSAGE_STYLE_HASH}`,
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const DOCTYPE = "<!DOCTYPE html>";

async function doc(element: string | Promise<string>): Promise<string> {
  return DOCTYPE + await element;
}

/** The overview page. */
export function overview(data: OverviewData, config: Config): Promise<string> {
  return doc(
    <Layout
      title="Overview"
      section="overview"
      counts={data.stats.counts}
      db={data.stats.db}
      engine={data.stats.engine}
    >
      <Live>
        <OverviewLive {...data} />
      </Live>
      <AddJobForm config={config} />
    </Layout>,
  );
}

/** The live region of the overview. */
export function overviewLive(data: OverviewData): string | Promise<string> {
  return <OverviewLive {...data} />;
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
}

/** The jobs page. */
export function jobs(data: JobsData): Promise<string> {
  return doc(
    <Layout
      title="Jobs"
      section="jobs"
      counts={data.stats.counts}
      db={data.stats.db}
      engine={data.stats.engine}
    >
      <h1>Jobs</h1>
      <JobFilterForm filters={data.filters} />
      <Live>
        <JobsLive {...data} />
      </Live>
    </Layout>,
  );
}

/** The live region of the jobs page. */
export function jobsLive(data: JobsData): string | Promise<string> {
  return <JobsLive {...data} />;
}

/** The job page. */
export function job(data: JobPageData & { stats: Stats }): Promise<string> {
  return doc(
    <Layout
      title={`Job ${data.job.id}`}
      section="jobs"
      counts={data.stats.counts}
      db={data.stats.db}
      engine={data.stats.engine}
    >
      <Live>
        <JobLive {...data} />
      </Live>
    </Layout>,
  );
}

/** The live region of the job page. */
export function jobLive(data: JobPageData): string | Promise<string> {
  return <JobLive {...data} />;
}

/** What the DLQ page shows. */
export interface DlqData {
  jobs: Job[];
  dead: number;
  next: string | null;
  params: URLSearchParams;
  now: number;
  stats: Stats;
}

/** The DLQ page. */
export function dlq(data: DlqData): Promise<string> {
  return doc(
    <Layout
      title="DLQ"
      section="dlq"
      counts={data.stats.counts}
      db={data.stats.db}
      engine={data.stats.engine}
    >
      <Live>
        <DlqLive {...data} />
      </Live>
    </Layout>,
  );
}

/** The live region of the DLQ page. */
export function dlqLive(data: DlqData): string | Promise<string> {
  return <DlqLive {...data} />;
}

/** What the queues page shows. */
export interface QueuesData {
  queues: QueueInfo[];
  stats: Stats;
}

/** The queues page. */
export function queues(data: QueuesData): Promise<string> {
  return doc(
    <Layout
      title="Queues"
      section="queues"
      counts={data.stats.counts}
      db={data.stats.db}
      engine={data.stats.engine}
    >
      <Live>
        <QueuesLive queues={data.queues} />
      </Live>
    </Layout>,
  );
}

/** The live region of the queues page. */
export function queuesLive(data: QueuesData): string | Promise<string> {
  return <QueuesLive queues={data.queues} />;
}

/** What the schedules page shows. */
export interface SchedulesData {
  schedules: ScheduleView[];
  stats: Stats;
}

/** The schedules page. */
export function schedules(data: SchedulesData): Promise<string> {
  return doc(
    <Layout
      title="Schedules"
      section="schedules"
      counts={data.stats.counts}
      db={data.stats.db}
      engine={data.stats.engine}
    >
      <Live>
        <SchedulesLive schedules={data.schedules} />
      </Live>
    </Layout>,
  );
}

/** The live region of the schedules page. */
export function schedulesLive(data: SchedulesData): string | Promise<string> {
  return <SchedulesLive schedules={data.schedules} />;
}

/** A page that stands alone: the 401 page and error pages. */
export function message(
  props: { title: string; text: string; back?: boolean },
): Promise<string> {
  return doc(
    <MessagePage title={props.title}>
      {props.text ? <p>{props.text}</p> : ""}
      {props.back
        ? (
          <p>
            <a href="/">Back to the overview</a>
          </p>
        )
        : ""}
    </MessagePage>,
  );
}
