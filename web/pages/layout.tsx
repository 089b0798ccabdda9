/** The frame of every page: head, navigation with live counts, the flash area, the live region. */
import type { Child } from "hono/jsx";
import type { JobState } from "../../lib/job.ts";

/** What the frame needs besides the page's own content. */
export interface LayoutProps {
  title: string;
  /** The nav entry to mark as current. */
  section: "overview" | "jobs" | "queues" | "schedules" | "dlq";
  counts: Record<JobState, number>;
  db: string;
  /** The database engine and version. */
  engine?: string;
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
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        <script src="/assets/app.js" defer></script>
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/">queuectl</a>
          <nav>
            <a href="/" aria-current={current("overview")}>Overview</a>
            <a href="/jobs" aria-current={current("jobs")}>
              Jobs{" "}
              <span
                class="count"
                data-count="processing"
                data-suffix=" running"
                title="jobs running now"
              >
                {props.counts.processing} running
              </span>
            </a>
            <a href="/queues" aria-current={current("queues")}>Queues</a>
            <a href="/dlq" aria-current={current("dlq")}>
              DLQ{" "}
              <span class="count dead" data-count="dead" title="dead jobs">
                {props.counts.dead}
              </span>
            </a>
            <a href="/schedules" aria-current={current("schedules")}>Schedules</a>
          </nav>
          <span id="live-status" class="live-status" title="live updates">connecting</span>
        </header>
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
