/**
 * What a request asks for, read the same way by every route: a page or a
 * JSON document, a plain HTML form or a script, which jobs to list, and
 * where to go back to after a form post.
 */
import type { Context } from "hono";
import { UsageError } from "../lib/errors.ts";
import { parseJobFilter } from "../lib/job_filter.ts";
import { parseLimit, parseState } from "../lib/options.ts";
import type { JobFilter, JobListParams } from "../lib/storage/storage.ts";

/** The largest page of jobs the API returns. */
export const MAX_PAGE = 1000;

/** Whether `path` belongs to the JSON side of the app (`/api/…` and `/metrics`). */
export function isApiPath(path: string): boolean {
  return path === "/api" || path.startsWith("/api/") || path === "/metrics";
}

/** Whether the body is a form (urlencoded or multipart), from a browser or a script. */
export function isFormPost(c: Context): boolean {
  const type = c.req.header("content-type") ?? "";
  return type.startsWith("application/x-www-form-urlencoded") ||
    type.startsWith("multipart/form-data");
}

/** A plain HTML form post (no script): answer with a redirect or an HTML page, not JSON. */
export function isPlainForm(c: Context): boolean {
  return isFormPost(c) && !(c.req.header("accept") ?? "").includes("application/json");
}

/** Whether an answer (an error included) should be an HTML page rather than JSON. */
export function wantsHtml(c: Context): boolean {
  return !isApiPath(c.req.path) || isPlainForm(c);
}

/** A local path to go back to after a form post; anything else becomes `/`. */
export function safeReturn(value: unknown): string {
  return typeof value === "string" && /^\/(?![/\\])/.test(value) ? value : "/";
}

/**
 * The filter of an action by filter (README "Operating a queue") from the
 * filter bar's fields: `state`, `queue`, `tag` (repeatable), `older_than`,
 * and `q` as a text the command contains; `null` when it names nothing.
 */
export function filterParams(
  query: URLSearchParams | Record<string, unknown>,
  now: number,
): JobFilter | null {
  const get = (name: string): string | undefined => {
    const value = query instanceof URLSearchParams ? query.get(name) : query[name];
    return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
  };
  const tags = query instanceof URLSearchParams
    ? query.getAll("tag")
    : [query.tag].flat().filter((t): t is string => typeof t === "string");
  return parseJobFilter({
    state: get("state"),
    queue: get("queue"),
    tag: tags.flatMap((t) => t.split(",")).map((t) => t.trim()).filter(Boolean),
    olderThan: get("older_than"),
    commandLike: get("q"),
  }, now);
}

/** The `state` filter value that lists delayed jobs (pending, not due yet), soonest first. */
export const SCHEDULED = "scheduled" as const;

/**
 * Reads `state`, `queue`, `q`, `tag`, `older_than`, `limit` and `cursor`
 * from a query string; `state=scheduled` lists the jobs not due until
 * after `now`.
 */
export function listParams(
  query: URLSearchParams,
  now: number,
  fallbackLimit = 50,
): JobListParams {
  const limit = parseLimit(query.get("limit") || undefined, fallbackLimit);
  if (limit > MAX_PAGE) {
    throw new UsageError(`Invalid limit "${limit}"`, `use at most ${MAX_PAGE}`);
  }
  const state = query.get("state") || undefined;
  const scheduled = state === SCHEDULED;
  return {
    state: scheduled ? undefined : parseState(state),
    dueAfter: scheduled ? now : undefined,
    queue: query.get("queue")?.trim() || undefined,
    search: query.get("q")?.trim() || undefined,
    ...tagAndAge(query, now),
    cursor: query.get("cursor") || undefined,
    limit,
  };
}

/** The `tag` and `older_than` of a list's query string, checked as the filter bar's. */
function tagAndAge(
  query: URLSearchParams,
  now: number,
): Pick<JobListParams, "tags" | "createdBefore"> {
  const filter = filterParams(
    new URLSearchParams([
      ...query.getAll("tag").map((t) => ["tag", t] as [string, string]),
      ["older_than", query.get("older_than") ?? ""],
    ]),
    now,
  );
  return {
    ...(filter?.tags ? { tags: filter.tags } : {}),
    ...(filter?.createdBefore !== undefined ? { createdBefore: filter.createdBefore } : {}),
  };
}
