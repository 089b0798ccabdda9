/** `queuectl show <id>`: one job with every attempt, its dependencies and dependents. */
import { jobNotFound } from "../lib/errors.ts";
import type { JobLink } from "../lib/job.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { paintState, table } from "./_format.ts";

/** Jobs with their states: `a (completed), b (blocked)`; a pruned one is `gone`. */
function links(color: boolean, jobs: JobLink[]): string {
  if (jobs.length === 0) return "-";
  return jobs.map((j) => `${j.id} (${j.state ? paintState(color, j.state) : "gone"})`).join(", ");
}

/** The links of `ids` (`after` or `after_any`), with the states `dependencies` read. */
function linksOf(color: boolean, ids: string[], dependencies: JobLink[]): string {
  const states = new Map(dependencies.map((d) => [d.id, d.state]));
  return links(color, ids.map((id) => ({ id, state: states.get(id) ?? null })));
}

/** Prints a job's fields and its attempts. */
export async function show(ctx: CliContext, id: string, json: boolean): Promise<void> {
  const job = await withStorage(ctx, (store) => store.jobGetWithRuns({ id }));
  if (!job) throw jobNotFound(id);
  if (json) return printJson(ctx, job);
  const { runs, dependencies, dependents, ...fields } = job;
  for (const [key, value] of Object.entries(fields)) {
    const shown = key === "state"
      ? paintState(ctx.color, job.state)
      : key === "after" && job.after !== null
      ? linksOf(ctx.color, job.after, dependencies)
      : key === "after_any" && job.after_any !== null
      ? linksOf(ctx.color, job.after_any, dependencies)
      : value === null
      ? "-"
      : typeof value === "object"
      ? JSON.stringify(value)
      : String(value);
    ctx.out(`${(key + ":").padEnd(13)} ${shown}`);
  }
  ctx.out(`${"dependents:".padEnd(13)} ${links(ctx.color, dependents)}`);
  if (runs.length === 0) {
    ctx.out("\nno attempts yet");
    return;
  }
  ctx.out("");
  ctx.out(table(
    ["ATTEMPT", "STARTED", "DURATION", "OUTCOME", "EXIT", "WORKER", "ERROR"],
    runs.map((r) => [
      String(r.attempt),
      r.started_at,
      r.duration_ms === null ? "running" : `${r.duration_ms} ms`,
      r.outcome ?? "running",
      r.exit_code === null ? (r.signal ?? "-") : String(r.exit_code),
      r.worker_id ?? "-",
      r.error ?? "",
    ]),
  ));
  // on_finish results (README "Hooks"): never part of the attempt's outcome.
  for (const r of runs) {
    if (!r.hook) continue;
    const h = r.hook;
    ctx.out(
      `hook of attempt ${r.attempt}: ${h.outcome} in ${h.duration_ms} ms${
        h.error ? ` (${h.error})` : ""
      }`,
    );
  }
}
