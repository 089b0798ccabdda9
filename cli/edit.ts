/**
 * `queuectl edit <id> [--command ...] [--priority N] ...`: changes a job
 * that is not running and not final, in one transaction (README
 * "Operating a queue"); `--tag` and `--env` replace the whole list.
 */
import { type EditWords, parseEdit } from "../lib/job_edit.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";

/** Edits one job and prints it (`--json`) or one line naming what changed. */
export async function edit(
  ctx: CliContext,
  id: string,
  words: EditWords,
  json: boolean,
): Promise<void> {
  const changes = parseEdit(words, Date.now());
  const job = await withStorage(ctx, (store) => store.jobEdit({ id, changes, now: store.now() }));
  if (json) return printJson(ctx, job);
  const fields = Object.keys(changes).map((key) => key === "runAt" ? "run_at" : key);
  ctx.out(`job ${job.id} edited: ${fields.join(", ")}`);
}
