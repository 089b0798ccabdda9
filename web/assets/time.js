// queuectl dashboard: times in the reader's zone.
//
// The server writes every time as UTC in <time datetime="…" data-fmt="…">
// (it does not know the browser's zone). This script rewrites each one in
// the browser's zone with how far off it is ("14:02:11 · in 59 min"), or
// only how far off ("rel"), or the time since ("elapsed": a running job),
// and keeps them current once a second and after each live update. UTC
// stays in the tooltip. The browser's clock is corrected by the store's
// clock the page was drawn with (body data-now), so "in 59 min" agrees
// with the server even when the two clocks differ.
"use strict";

(() => {
  const drawnAt = Number(document.body?.dataset.now);
  const skew = Number.isFinite(drawnAt) ? drawnAt - Date.now() : 0;
  // A few seconds of difference is the page's own latency, not a wrong clock.
  const offset = Math.abs(skew) > 5000 ? skew : 0;

  const sameDay = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const sameYear = new Intl.DateTimeFormat(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
  const otherYear = new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });

  function amount(ms) {
    const abs = Math.abs(ms);
    if (abs < 1000) return "now";
    if (abs < 120_000) return `${Math.round(abs / 1000)} s`;
    if (abs < 7_200_000) return `${Math.round(abs / 60_000)} min`;
    if (abs < 172_800_000) return `${Math.round(abs / 3_600_000)} h`;
    return `${Math.round(abs / 86_400_000)} days`;
  }

  function relative(ms) {
    const a = amount(ms);
    if (a === "now") return "now";
    return ms > 0 ? `in ${a}` : `${a} ago`;
  }

  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s} s`;
    if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
    const min = Math.floor(s / 60) % 60;
    return `${Math.floor(s / 3600)} h${min ? ` ${min} min` : ""}`;
  }

  function local(date, now) {
    const today = new Date(now);
    if (date.toDateString() === today.toDateString()) return sameDay.format(date);
    if (date.getFullYear() === today.getFullYear()) return sameYear.format(date);
    return otherYear.format(date);
  }

  function update() {
    const now = Date.now() + offset;
    for (const el of document.querySelectorAll("time[data-fmt]")) {
      const at = Date.parse(el.dateTime);
      if (!Number.isFinite(at)) continue;
      const fmt = el.dataset.fmt;
      const text = fmt === "rel"
        ? relative(at - now)
        : fmt === "elapsed"
        ? duration(now - at)
        : `${local(new Date(at), now)} · ${relative(at - now)}`;
      if (el.textContent !== text) el.textContent = text;
    }
    // A running job's bar: seconds used of its timeout.
    for (const bar of document.querySelectorAll("progress[data-start]")) {
      const used = (now - Date.parse(bar.dataset.start)) / 1000;
      if (Number.isFinite(used)) bar.value = Math.min(bar.max, Math.max(0, used));
    }
  }

  update();
  document.addEventListener("queuectl:refreshed", update);
  setInterval(update, 1000);
})();
