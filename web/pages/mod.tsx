/**
 * The pages as data to HTML text, for the route modules (plain TypeScript).
 * Each page file owns its data type and its {@linkcode PageView}; every one
 * is drawn in the same frame by {@linkcode renderPage}, and its live region
 * alone by {@linkcode renderLive} (what `assets/app.js` swaps in when the
 * data changes).
 */
import { htmlDocument } from "./layout.tsx";
import { MESSAGE_STYLE_HASH, MessagePage } from "./message.tsx";

export { type PageView, renderLive, renderPage } from "./layout.tsx";
export { confirmBulk } from "./bulk.tsx";
export { dlqPage } from "./dlq.tsx";
export { jobPage, outputRuns } from "./job.tsx";
export { jobsPage } from "./jobs.tsx";
export { type MissingData, missingPage } from "./missing.tsx";
export { overviewPage } from "./overview.tsx";
export { queuesPage } from "./queues.tsx";
export { schedulesPage } from "./schedules.tsx";

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

/**
 * A page that stands alone: the 401 page and error pages. `tokenForm`
 * (a local path) adds a box to paste the token into: it opens that path
 * with `?token=`, which the access check turns into the cookie.
 */
export function message(
  props: {
    title: string;
    text: string;
    back?: boolean | undefined;
    tokenForm?: string | undefined;
  },
): Promise<string> {
  return htmlDocument(
    <MessagePage title={props.title}>
      {props.text ? <p>{props.text}</p> : ""}
      {props.tokenForm
        ? (
          <form method="get" action={props.tokenForm}>
            <label>
              Token
              <input
                name="token"
                type="password"
                required
                autocomplete="off"
                placeholder="the part after ?token= in the printed URL"
              />
            </label>
            <button type="submit">Open the dashboard</button>
          </form>
        )
        : ""}
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
