/**
 * The "not found" page of a signed-in reader: in the dashboard's frame,
 * with its navigation, saying what to try in the dashboard itself.
 */
import type { Stats } from "../../lib/stats.ts";
import type { PageView } from "./layout.tsx";

/** What a "not found" page says. */
export interface MissingData {
  /** The one line, e.g. `Job "x" not found`. */
  title: string;
  /** Why it may be so. */
  text: string;
  /** A job id to search the jobs list for, when a job was asked for. */
  search?: string | undefined;
  now: number;
  stats: Stats;
}

/** The page's content. */
export function MissingLive(props: MissingData) {
  return (
    <section class="card missing">
      <h1>{props.title}</h1>
      <p>{props.text}</p>
      <p>
        {props.search === undefined ? <a href="/">Back to the overview</a> : (
          <>
            <a href={`/jobs?q=${encodeURIComponent(props.search)}`}>Search the jobs for it</a>
            {" · "}
            <a href="/jobs">All jobs</a>
          </>
        )}
      </p>
    </section>
  );
}

/** The "not found" page. */
export const missingPage: PageView<MissingData> = {
  title: (data) => data.title,
  Live: MissingLive,
};
