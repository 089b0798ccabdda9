/** The benchmark table as aligned text (and as Markdown for bench/RESULTS.md). */
import { formatNumber, type Row, targetText } from "./_result.ts";

const HEADER = ["scenario", "metric", "figure", "baseline", "ratio", "target", "met"];

function cells(row: Row): string[] {
  const unit = row.unit ? ` ${row.unit}` : "";
  const met = row.figure === null ? "ERROR" : row.met === null ? "—" : row.met ? "yes" : "NO";
  return [
    row.scenario,
    row.metric,
    row.figure === null ? "—" : `${formatNumber(row.figure)}${unit}`,
    row.baseline === null
      ? row.baselineLabel || "—"
      : `${formatNumber(row.baseline)}${unit} (${row.baselineLabel})`,
    row.ratio === null ? "—" : `${row.ratio.toFixed(2)}×`,
    targetText(row.target, row.unit),
    met,
  ];
}

/** The rows as a plain-text table, then one line per note. */
export function formatTable(rows: Row[]): string {
  const body = rows.map(cells);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const out = [line(HEADER), line(widths.map((w) => "-".repeat(w))), ...body.map(line)];
  const notes = rows.filter((r) => r.note);
  if (notes.length > 0) {
    out.push("", "notes:");
    for (const r of notes) out.push(`  ${r.scenario} / ${r.metric}: ${r.note}`);
  }
  return out.join("\n");
}

/** The rows as a Markdown table (for bench/RESULTS.md). */
export function formatMarkdown(rows: Row[]): string {
  const escape = (c: string) => c.replaceAll("|", "\\|");
  const out = [
    `| ${HEADER.join(" | ")} |`,
    `| ${HEADER.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${cells(r).map(escape).join(" | ")} |`),
  ];
  return out.join("\n");
}
