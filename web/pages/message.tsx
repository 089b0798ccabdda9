/**
 * A page that stands alone: the 401 "open the printed URL" page and error
 * pages. It cannot rely on `/assets` (a browser without the token cannot
 * load them), so its few styles are inline and allowed by their hash in the
 * Content-Security-Policy.
 */
import { createHash } from "node:crypto";
import type { Child } from "hono/jsx";

/** The inline styles of a message page. */
export const MESSAGE_STYLE =
  ":root{color-scheme:dark light;font-family:system-ui,sans-serif;background:#0f1115;color:#e6e6e6}" +
  "@media (prefers-color-scheme:light){:root{background:#fafafa;color:#1d1f24}}" +
  "body{max-width:40rem;margin:10vh auto;padding:0 1rem;line-height:1.5}" +
  "code{background:rgba(127,127,127,.2);padding:.1em .3em;border-radius:4px}a{color:#6aa6ff}" +
  "form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin:1.2rem 0}" +
  "label{flex:1 1 14rem;display:block;font-size:.9rem}" +
  "input,button{font:inherit;padding:.45rem .6rem;border-radius:6px;border:1px solid #888}" +
  "input{width:100%;margin-top:.2rem;background:transparent;color:inherit}" +
  "button{background:#3b82f6;border-color:#3b82f6;color:#fff;cursor:pointer}";

/** The CSP source that allows {@linkcode MESSAGE_STYLE} and nothing else inline. */
export const MESSAGE_STYLE_HASH = `'sha256-${
  createHash("sha256").update(MESSAGE_STYLE).digest("base64")
}'`;

/** A short page with a title and a message. */
export function MessagePage(props: { title: string; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · queuectl`}</title>
        <style>{MESSAGE_STYLE}</style>
      </head>
      <body>
        <h1>{props.title}</h1>
        {props.children}
      </body>
    </html>
  );
}
