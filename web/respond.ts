/**
 * How the dashboard answers, the same way on every route: an error as an
 * HTML page or as JSON by what the request asked for, typed errors mapped
 * to their HTTP status in one place, and the form actions that answer a
 * plain form with a redirect and a script with JSON.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { errorLine, errorMessage, QueuectlError, UsageError } from "../lib/errors.ts";
import * as pages from "./pages/mod.tsx";
import { isFormPost, isPlainForm, safeReturn, wantsHtml } from "./request.ts";

/** What an error answer says. */
export interface ErrorAnswer {
  /** The one line: the JSON `error`, the HTML page's title. */
  title: string;
  /** What to do about it: appended to the JSON `error`, the text of the HTML page. */
  hint?: string;
  /** Whether the HTML page links back to the overview. */
  back?: boolean;
  /** The HTML page offers a box for the token, opening this local path with it. */
  tokenForm?: string;
}

/** An error as the request wants it: `{ "error": … }` for the API, an HTML page otherwise. */
export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  answer: ErrorAnswer,
): Response | Promise<Response> {
  const { title, hint } = answer;
  if (!wantsHtml(c)) return c.json({ error: hint ? `${title}; ${hint}` : title }, status);
  const text = hint ? `${hint[0]!.toUpperCase()}${hint.slice(1).replaceAll("`", "")}.` : "";
  return c.html(
    pages.message({ title, text, back: answer.back, tokenForm: answer.tokenForm }),
    status,
  );
}

/** The app's `onError`: a typed error becomes its HTTP status; anything else is a 500, logged. */
export const handleError: ErrorHandler = (error, c) => {
  let status = 500;
  let message: string;
  if (error instanceof QueuectlError) {
    status = error.httpStatus;
    message = errorLine(error);
  } else {
    console.error(error);
    message = `Internal error: ${errorMessage(error)}`;
  }
  return errorResponse(c, status as ContentfulStatusCode, { title: message, back: true });
};

/** The app's `notFound`. */
export const handleNotFound: NotFoundHandler = (c) =>
  errorResponse(c, 404, { title: `Nothing at ${c.req.method} ${c.req.path}`, back: true });

/** The posted fields of a form action: a form's, or a JSON object's. */
export type ActionInput = Record<string, unknown>;

/** How a form action reads its fields and where a plain form goes back to. */
export interface FormActionOptions {
  /**
   * Where a plain form goes back to when it names no `return` field;
   * `/` unless given.
   */
  back?: string;
  /**
   * Whether a body that is not a form is read as a JSON object (the queue
   * settings); otherwise only a form's fields are read.
   */
  json?: boolean;
}

/**
 * A `POST` action shared by a button of the dashboard and the API: reads the
 * posted fields, runs `act`, then answers a plain HTML form with a redirect
 * to its `return` field (a local path) and anything else with `act`'s result
 * as JSON.
 */
export function formAction(
  act: (c: Context, input: ActionInput) => Promise<unknown>,
  options: FormActionOptions = {},
): (c: Context) => Promise<Response> {
  return async (c) => {
    const input = await readInput(c, options.json ?? false);
    const result = await act(c, input);
    if (isPlainForm(c)) return c.redirect(safeReturn(input.return ?? options.back ?? "/"), 303);
    return c.json(result);
  };
}

async function readInput(c: Context, json: boolean): Promise<ActionInput> {
  if (isFormPost(c)) return await c.req.parseBody();
  if (!json) return {};
  const text = await c.req.text();
  if (text.trim() === "") return {};
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch {
    throw new UsageError("Request body is not JSON", 'send e.g. {"concurrency": 2}');
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new UsageError("Request body is not a JSON object", 'send e.g. {"concurrency": 2}');
  }
  return input as ActionInput;
}
