/**
 * The frame of every page: head, navigation with live counts, the flash
 * area, the live region; and {@linkcode renderPage}, which puts a page in it.
 */
import type { Child, FC } from "hono/jsx";
import type { JobState } from "../../lib/job.ts";
import type { Stats } from "../../lib/stats.ts";

/** The nav entries; each page marks one as current. */
export type Section = "overview" | "jobs" | "queues" | "schedules" | "dlq";

/** What the frame needs besides the page's own content. */
export interface LayoutProps {
  title: string;
  /** The nav entry to mark as current (none on a "not found" page). */
  section?: Section | undefined;
  counts: Record<JobState, number>;
  db: string;
  /** The database engine and version. */
  engine?: string;
  /** The store's clock when the page was drawn (`assets/time.js` corrects the browser's by it). */
  now: number;
  children?: Child;
}

/** The whole HTML document. */
export function Layout(props: LayoutProps) {
  const current = (section: LayoutProps["section"]) =>
    props.section === section ? "page" : undefined;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="dark light" />
        <title>{`${props.title} · queuectl`}</title>
        <link rel="stylesheet" href="/assets/app.css" />
        <link rel="stylesheet" href="/assets/content.css" />
        <link rel="stylesheet" href="/assets/narrow.css" media="(max-width: 640px)" />
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        <script src="/assets/app.js" defer></script>
        <script src="/assets/time.js" defer></script>
      </head>
      <body data-now={String(props.now)}>
        <header class="top">
          <a class="brand" href="/">queuectl</a>
          <nav data-scroll-hint>
            <a href="/" aria-current={current("overview")}>Overview</a>
            <a href="/jobs" aria-current={current("jobs")}>
              Jobs{" "}
              <span class="count" title="jobs running now">
                <span data-count="processing">{props.counts.processing}</span>{" "}
                <span class="wide-only">running</span>
              </span>
            </a>
            <a href="/queues" aria-current={current("queues")}>Queues</a>
            <a href="/dlq" aria-current={current("dlq")}>
              DLQ {/* Hidden at 0 (by CSS on data-n, which app.js keeps current). */}
              <span
                class="count dead"
                data-count="dead"
                data-n={String(props.counts.dead)}
                title="dead jobs"
              >
                {props.counts.dead}
              </span>
            </a>
            <a href="/schedules" aria-current={current("schedules")}>Schedules</a>
          </nav>
          <span id="live-status" class="live-status" title="live updates">connecting</span>
        </header>
        {/* Answers to buttons: a toast at the foot of the screen, so always in view. */}
        <div id="flash" class="flash" role="status" aria-live="polite"></div>
        <main>{props.children}</main>
        <footer>
          database <code>{props.db}</code>
          {props.engine ? ` · ${props.engine}` : ""}
        </footer>
      </body>
    </html>
  );
}

/** The part of a page that is re-rendered when the data changes (see `assets/app.js`). */
export function Live(props: { children?: Child }) {
  return <div id="live">{props.children}</div>;
}

/** What every page's data carries: the stats the navigation's counts and the footer show. */
export interface FramedData {
  stats: Stats;
  /** The store's clock when the data was read. */
  now: number;
}

/**
 * A page of the dashboard, drawn from one data object: its frame and its
 * live region. With the live header only the live region is sent (see
 * `assets/app.js`); what stays put around it (a form being typed into) is
 * sent with the full page only.
 */
export interface PageView<D extends FramedData> {
  /** The document title, before ` · queuectl`. */
  title: string | ((data: D) => string);
  /** The nav entry marked as current (none on a "not found" page). */
  section?: Section;
  /** The live region: re-rendered when the data changes. */
  Live: FC<D>;
  /** What stays put above the live region. */
  Before?: FC<D>;
  /** What stays put below the live region. */
  After?: FC<D>;
}

/** A whole HTML document, doctype first. */
export async function htmlDocument(element: string | Promise<string>): Promise<string> {
  return "<!DOCTYPE html>" + await element;
}

/** The full page: the frame around the page's content and its live region. */
export function renderPage<D extends FramedData>(view: PageView<D>, data: D): Promise<string> {
  const { Live: Region, Before, After } = view;
  const title = typeof view.title === "string" ? view.title : view.title(data);
  return htmlDocument(
    <Layout
      title={title}
      section={view.section}
      counts={data.stats.counts}
      db={data.stats.db}
      engine={data.stats.engine}
      now={data.now}
    >
      {Before ? <Before {...data} /> : ""}
      <Live>
        <Region {...data} />
      </Live>
      {After ? <After {...data} /> : ""}
    </Layout>,
  );
}

/** The live region of a page alone. */
export function renderLive<D extends FramedData>(
  view: PageView<D>,
  data: D,
): string | Promise<string> {
  const { Live: Region } = view;
  return <Region {...data} />;
}
