/** Text formatting shared by the commands: colours, tables, times. */
import { formatRate } from "../lib/options.ts";
import type { JobState } from "../lib/job.ts";

const STATE_COLORS: Record<JobState, number> = {
  pending: 33, // yellow
  blocked: 34, // blue
  held: 94, // bright blue
  processing: 36, // cyan
  completed: 32, // green
  failed: 35, // magenta
  dead: 31, // red
  cancelled: 90, // grey
};

/** Wraps text in an ANSI colour when `on`. */
export function paint(on: boolean, code: number, text: string): string {
  return on ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** A state name in its colour. */
export function paintState(on: boolean, state: JobState): string {
  return paint(on, STATE_COLORS[state], state);
}

// deno-lint-ignore no-control-regex -- ANSI colour codes start with ESC
const ANSI = /\x1b\[[0-9;]*m/g;

function visibleLength(text: string): number {
  return text.replace(ANSI, "").length;
}

/** Aligns rows into columns separated by two spaces; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) =>
    Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? "")))
  );
  const line = (cells: string[]) =>
    cells.map((cell, i) =>
      i === cells.length - 1 ? cell : cell + " ".repeat(widths[i]! - visibleLength(cell))
    ).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Shortens text to `max` characters with an ellipsis, on one line. */
export function truncate(text: string, max: number): string {
  const one = text.replace(/\s+/g, " ");
  return one.length <= max ? one : one.slice(0, Math.max(0, max - 1)) + "…";
}

/** Quotes one argument for `sh` so it stays one word: `a b` becomes `'a b'`. */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_\-+=.,/:@%^]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A queue's rate as `queue list` and `status` show it: `3/5 per 1s` (starts in the window / limit), or `none`. */
export function rateColumn(
  rate: { limit: number; period_ms: number; used: number } | null,
): string {
  if (rate === null) return "none";
  const [limit, period] = formatRate({ limit: rate.limit, periodMs: rate.period_ms }).split("/");
  return `${rate.used}/${limit} per ${period}`;
}
