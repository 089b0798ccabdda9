// queuectl dashboard: live updates and forms that post without a page reload.
//
// The server sends a "stats" event (the `status --json` document) over
// server-sent events whenever the data changes. On each one the counts in
// the page are updated at once and the page's live region (#live) is fetched
// again, rendered by the server, with the X-Queuectl-Live header. Forms
// marked data-async are posted with fetch; without script they still work
// as plain forms. A field the reader is typing in (focused, or changed and
// not yet sent) keeps its text, cursor and focus across every update.
"use strict";

(() => {
  const live = document.getElementById("live");
  const statusEl = document.getElementById("live-status");
  const flashEl = document.getElementById("flash");

  function setStatus(text, cls) {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.className = `live-status ${cls}`;
  }

  function message(parts, isError) {
    const box = document.createElement("div");
    if (isError) box.className = "error";
    for (const part of parts) {
      if (typeof part === "string") {
        box.append(part);
      } else {
        const a = document.createElement("a");
        a.href = part.href;
        a.textContent = part.text;
        box.append(a);
      }
    }
    return box;
  }

  // The answer to a form: beside it when it has a status line (a long form
  // whose top is out of view), else as a toast at the foot of the screen.
  let fadeTimer;
  function flash(parts, isError, form) {
    const here = form?.querySelector("[data-form-status]");
    const target = here ?? flashEl;
    if (!target) return;
    target.replaceChildren(message(parts, isError));
    if (here) return;
    flashEl.classList.remove("faded");
    clearTimeout(fadeTimer);
    // A success fades after a while (its text stays for screen readers); an error stays.
    if (!isError) fadeTimer = setTimeout(() => flashEl.classList.add("faded"), 10_000);
  }
  flashEl?.addEventListener("click", () => flashEl.classList.add("faded"));

  // ----- fields being typed in survive a re-render

  function fieldKey(el) {
    return el.form && el.name ? `${el.form.getAttribute("action")}|${el.name}` : null;
  }

  function saveFields() {
    const saved = new Map();
    for (const el of live.querySelectorAll("input, select, textarea")) {
      if (el.type === "hidden") continue;
      const key = fieldKey(el);
      const focused = el === document.activeElement;
      const dirty = el.value !== el.defaultValue;
      if (!key || !(focused || dirty)) continue;
      let selection = null;
      try {
        selection = [el.selectionStart, el.selectionEnd];
      } catch { /* number inputs have no selection */ }
      saved.set(key, { value: el.value, focused, selection });
    }
    return saved;
  }

  function restoreFields(saved) {
    if (saved.size === 0) return;
    for (const el of live.querySelectorAll("input, select, textarea")) {
      const state = saved.get(fieldKey(el));
      if (!state) continue;
      el.value = state.value;
      if (!state.focused) continue;
      el.focus({ preventScroll: true });
      try {
        if (state.selection?.[0] != null) el.setSelectionRange(...state.selection);
      } catch { /* number inputs have no selection */ }
    }
  }

  // ----- boxes wider than the screen say so (a shade at the edge, content.css)

  function markScrolls() {
    for (const el of document.querySelectorAll("[data-scroll-hint]")) {
      el.classList.toggle("scrolls", el.scrollWidth > el.clientWidth + 1);
    }
  }
  markScrolls();
  addEventListener("resize", markScrolls);
  document.addEventListener("queuectl:refreshed", markScrolls);

  // ----- the live region

  let inFlight = false;
  let again = false;

  async function refresh() {
    if (!live) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      const res = await fetch(location.href, {
        headers: { "X-Queuectl-Live": "1" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (res.status === 401) {
        setStatus("token expired: open the printed URL again", "off");
        return;
      }
      if (!res.ok) return;
      const counts = res.headers.get("X-Queuectl-Counts");
      const html = await res.text();
      // Keep open what the reader opened.
      const open = new Set();
      for (const d of live.querySelectorAll("details[data-key]")) {
        open.add(`${d.dataset.key}:${d.open}`);
      }
      const fields = saveFields();
      live.innerHTML = html;
      restoreFields(fields);
      if (counts) showCounts({ counts: JSON.parse(counts) });
      for (const d of live.querySelectorAll("details[data-key]")) {
        if (open.has(`${d.dataset.key}:true`)) d.open = true;
        else if (open.has(`${d.dataset.key}:false`)) d.open = false;
      }
      document.dispatchEvent(new CustomEvent("queuectl:refreshed"));
    } catch {
      // The server went away; the event stream reconnects and brings a new refresh.
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  function showCounts(stats) {
    for (const el of document.querySelectorAll("[data-count]")) {
      const n = stats.counts[el.dataset.count];
      if (typeof n !== "number") continue;
      el.textContent = String(n);
      if (el.dataset.n !== undefined) el.dataset.n = String(n);
    }
  }

  // ----- the event stream

  let first = true;
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => setStatus("live", "on"));
  events.addEventListener("error", () => setStatus("reconnecting", "off"));
  events.addEventListener("stats", (event) => {
    setStatus("live", "on");
    const stats = JSON.parse(event.data);
    showCounts(stats);
    // The first event describes what the page was rendered from.
    if (first) {
      first = false;
      return;
    }
    refresh();
  });
  addEventListener("pagehide", () => events.close());

  // A running job's output is saved about once a second without a change
  // event (one would wake every open page per chunk of output), so the page
  // of a running job refreshes on its own.
  setInterval(() => {
    if (live?.querySelector("[data-running]")) refresh();
    // Queue settings change without a change event too (a pause changes no
    // count); a field being typed in keeps its text (restoreFields).
    else if (live?.querySelector("[data-poll]")) refresh();
  }, 1000);

  // ----- forms that post without a reload

  function describe(action, body, status) {
    if (action.startsWith("/api/jobs/bulk/")) return [body.summary];
    if (action.endsWith("/api/dlq/purge")) {
      const n = body.deleted;
      return [`Deleted ${n} dead job${n === 1 ? "" : "s"}`];
    }
    if (action.endsWith("/api/dlq/retry")) {
      const n = body.retried;
      return [`Moved ${n} job${n === 1 ? "" : "s"} from the DLQ back to pending`];
    }
    if (action.startsWith("/api/queues/")) {
      const limit = body.concurrency === 0 ? "no limit" : `a limit of ${body.concurrency}`;
      if (action.endsWith("/pause")) return [`Queue ${body.name} paused`];
      if (action.endsWith("/resume")) return [`Queue ${body.name} resumed`];
      if (action.endsWith("/rate")) {
        return body.rate === null ? [`Queue ${body.name} now has no rate limit`] : [
          `Queue ${body.name} now starts at most ${body.rate.limit} per ${
            body.rate.period_ms % 1000 === 0
              ? `${body.rate.period_ms / 1000} s`
              : `${body.rate.period_ms} ms`
          }`,
        ];
      }
      if (action.endsWith("/group-concurrency")) {
        return body.group_concurrency === 0
          ? [`Queue ${body.name} now has no group limit`]
          : [`Queue ${body.name} now runs at most ${body.group_concurrency} per group`];
      }
      return [`Queue ${body.name} now has ${limit}`];
    }
    if (action.startsWith("/api/schedules/") && !action.endsWith("/run")) {
      return [`Schedule ${body.name} ${body.paused ? "paused" : "resumed"}`];
    }
    const job = Array.isArray(body) ? body[0] : body;
    const link = { href: `/jobs/${encodeURIComponent(job.id)}`, text: job.id };
    if (action.startsWith("/api/jobs/") && action.endsWith("/run")) {
      return ["Job ", link, " is due now; a free worker starts it"];
    }
    if (action.endsWith("/retry")) {
      return job.state === "blocked"
        ? ["Job ", link, " is blocked again until its dependencies complete"]
        : ["Job ", link, " is pending again"];
    }
    if (action.endsWith("/cancel")) {
      return job.state === "cancelled"
        ? ["Job ", link, " cancelled"]
        : ["Job ", link, " is running; its worker will stop it and mark it cancelled"];
    }
    if (action.endsWith("/hold")) return ["Job ", link, " held"];
    if (action.endsWith("/release")) return ["Job ", link, ` released: ${job.state}`];
    if (action.endsWith("/edit")) return ["Job ", link, " edited"];
    if (action.startsWith("/api/schedules/")) return ["Enqueued job ", link];
    // 200 rather than 201: the job was kept out, and this one holds its key.
    if (status === 200) return ["Job ", link, " already holds that key; nothing added"];
    return ["Added job ", link];
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-async")) return;
    event.preventDefault();
    // An action by filter names its count and is confirmed first; the
    // server then answers as it would a confirmed plain form.
    if (form.dataset.confirm !== undefined && !confirm(form.dataset.confirm)) return;
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      const res = await fetch(form.action, {
        method: "POST",
        body: (() => {
          const body = new URLSearchParams(new FormData(form));
          if (form.dataset.confirm !== undefined) body.set("confirmed", "1");
          return body;
        })(),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
      if (!res.ok) {
        flash([body.error || `HTTP ${res.status}`], true, form);
        return;
      }
      flash(describe(new URL(form.action).pathname, body, res.status), false, form);
      if (form.hasAttribute("data-reset")) form.reset();
      // What was sent is no longer a change being typed.
      for (const el of form.elements) if ("defaultValue" in el) el.defaultValue = el.value;
      refresh();
    } catch (error) {
      flash([`Request failed: ${error}`], true, form);
    } finally {
      if (button) button.disabled = false;
    }
  });
})();
