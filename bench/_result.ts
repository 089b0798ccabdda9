/** One row of the benchmark table, its target, and how a row is judged. */

import { errorMessage } from "../lib/errors.ts";

/** A target: the figure must be at least, or at most, `value` (of the figure or of the ratio). */
export interface Target {
  /**
   * `min`: figure ≥ value; `max`: figure ≤ value; `ratio_min`: figure / baseline ≥ value;
   * `ratio_max`: figure / baseline ≤ value.
   */
  kind: "min" | "max" | "ratio_min" | "ratio_max";
  value: number;
}

/** One measured figure beside its baseline. */
export interface Row {
  /** The scenario number and name, e.g. `1 batch enqueue`. */
  scenario: string;
  /** What is measured, e.g. `jobs/s through enqueue --file`. */
  metric: string;
  /** The figure; `null` when the scenario failed. */
  figure: number | null;
  /** The unit of the figure and baseline, e.g. `jobs/s`, `ms`, `MB`, `%`. */
  unit: string;
  /** The baseline measured in the same run, with what it is. */
  baseline: number | null;
  baselineLabel: string;
  /** figure / baseline, or `null`. */
  ratio: number | null;
  target: Target | null;
  /** Whether the target is met; `null` without a target or a figure. */
  met: boolean | null;
  /** Anything worth knowing: sizes, errors, conditions. */
  note: string;
}

/** Builds a row, computing the ratio and judging the target. */
export function row(fields: {
  scenario: string;
  metric: string;
  figure: number | null;
  unit: string;
  baseline?: number | null;
  baselineLabel?: string;
  target?: Target | null;
  note?: string;
}): Row {
  const baseline = fields.baseline ?? null;
  const figure = fields.figure;
  const ratio = figure !== null && baseline !== null && baseline !== 0 ? figure / baseline : null;
  const target = fields.target ?? null;
  return {
    scenario: fields.scenario,
    metric: fields.metric,
    figure,
    unit: fields.unit,
    baseline,
    baselineLabel: fields.baselineLabel ?? "",
    ratio,
    target,
    met: judge(figure, ratio, target),
    note: fields.note ?? "",
  };
}

/**
 * The figure of the row measuring `metric` among `rows` (the SQLite rows of
 * the same scenario, for a PostgreSQL row's baseline), or `null`.
 */
export function figureOf(rows: Row[] | null, metric: string): number | null {
  return rows?.find((r) => r.metric === metric)?.figure ?? null;
}

/** The baseline label of a PostgreSQL row measured against SQLite in the same run. */
export const SQLITE_BASELINE = "SQLite, same run";

/** An error row: the scenario could not measure this figure. */
export function errorRow(scenario: string, metric: string, error: unknown): Row {
  const message = errorMessage(error);
  return {
    ...row({ scenario, metric, figure: null, unit: "" }),
    note: `error: ${message.split("\n")[0]}`,
  };
}

/** Whether `figure` (or its ratio) meets `target`; `null` when there is nothing to judge. */
export function judge(figure: number | null, ratio: number | null, target: Target | null) {
  if (target === null || figure === null) return null;
  switch (target.kind) {
    case "min":
      return figure >= target.value;
    case "max":
      return figure <= target.value;
    case "ratio_min":
      return ratio === null ? null : ratio >= target.value;
    case "ratio_max":
      return ratio === null ? null : ratio <= target.value;
  }
}

/** The target as text, e.g. `≥ 100,000 jobs/s` or `≥ 0.85× baseline`. */
export function targetText(target: Target | null, unit: string): string {
  if (target === null) return "—";
  switch (target.kind) {
    case "min":
      return `≥ ${formatNumber(target.value)} ${unit}`;
    case "max":
      return `≤ ${formatNumber(target.value)} ${unit}`;
    case "ratio_min":
      return `≥ ${target.value.toFixed(2)}× baseline`;
    case "ratio_max":
      return `≤ ${target.value.toFixed(2)}× baseline`;
  }
}

/** A number with a precision fit for a table: 123,456 / 1,234 / 12.3 / 1.23. */
export function formatNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
