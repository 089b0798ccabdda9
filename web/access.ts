/**
 * The access check every request passes, as one hono middleware: the `Host`
 * must be ours (DNS rebinding), a write must not come from a foreign
 * `Origin` (CSRF), and the token must come as `Authorization: Bearer`, as
 * the cookie set from `?token=`, or as that `?token=` itself (which sets the
 * cookie and redirects to the same URL without it). The rules themselves are
 * the pure helpers of `auth.ts`.
 */
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import {
  allowedHosts,
  bearerToken,
  isAllowedOrigin,
  tokenCookieName,
  tokenMatches,
} from "./auth.ts";
import { errorResponse } from "./respond.ts";

/** What the check needs to know about the server. */
export interface AccessOptions {
  /** The access token. */
  token: string;
  /** The address the server is bound to. */
  hostname: string;
  /** The port the server listens on. */
  port: number;
}

/**
 * A 401 or 403 that says what to do; a 401 names the scheme it wants and,
 * on a page, offers a box to paste the token into (it reopens the page).
 */
function refuse(c: Context, status: 401 | 403, title: string, hint: string) {
  if (status !== 401) return errorResponse(c, status, { title, hint });
  c.header("WWW-Authenticate", 'Bearer realm="queuectl"');
  const path = c.req.method === "GET" ? new URL(c.req.url).pathname : "/";
  return errorResponse(c, status, { title, hint, tokenForm: path });
}

/** The middleware: Host, then Origin on writes, then the token. */
export function accessCheck(options: AccessOptions) {
  const { token, port } = options;
  const hosts = allowedHosts(options.hostname, port);
  const cookieName = tokenCookieName(port);
  return createMiddleware(async (c, next) => {
    const url = new URL(c.req.url);
    const host = (c.req.header("host") ?? url.host).toLowerCase();
    if (!hosts.has(host)) {
      return refuse(
        c,
        403,
        `Host "${host}" is not this dashboard's address`,
        `open http://127.0.0.1:${port}/ instead`,
      );
    }
    const method = c.req.method;
    const read = method === "GET" || method === "HEAD";
    if (!read) {
      const origin = c.req.header("origin");
      const site = c.req.header("sec-fetch-site");
      if (
        (origin !== undefined && !isAllowedOrigin(origin, hosts)) ||
        site === "cross-site" || site === "same-site"
      ) {
        return refuse(
          c,
          403,
          "Cross-origin request refused",
          "changes are only accepted from the dashboard's own pages or from API clients",
        );
      }
    }
    const queryToken = url.searchParams.get("token");
    if (read && queryToken !== null) {
      if (!tokenMatches(queryToken, token)) {
        return refuse(
          c,
          401,
          "Wrong token",
          "open the URL that `queuectl dashboard` printed when it started",
        );
      }
      setCookie(c, cookieName, token, { httpOnly: true, sameSite: "Strict", path: "/" });
      url.searchParams.delete("token");
      return c.redirect(`${url.pathname}${url.search}`, 303);
    }
    const presented = bearerToken(c.req.header("authorization")) ?? getCookie(c, cookieName);
    if (!tokenMatches(presented, token)) {
      return refuse(
        c,
        401,
        presented === undefined ? "This dashboard needs its token" : "Wrong token",
        "open the URL that `queuectl dashboard` printed when it started " +
          "(it ends in ?token=…), or paste its token below; API clients send " +
          "Authorization: Bearer <token>",
      );
    }
    await next();
  });
}
