/** `queuectl show <id>`: one job with every attempt. */
import { jobNotFound } from "../lib/errors.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { paintState, table } from "./_format.ts";

/** Prints a job's fields and its attempts. */
export async function show(ctx: CliContext, id: string, json: boolean): Promise<void> {
  const job = await withStorage(ctx, (store) => store.jobGetWithRuns({ id }));
  if (!job) throw jobNotFound(id);
  if (json) return printJson(ctx, job);
  const { runs, ...fields } = job;
  for (const [key, value] of Object.entries(fields)) {
    const shown = key === "state"
      ? paintState(ctx.color, job.state)
      : value === null
      ? "-"
      : typeof value === "object"
      ? JSON.stringify(value)
      : String(value);
    ctx.out(`${(key + ":").padEnd(13)} ${shown}`);
  }
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
}
