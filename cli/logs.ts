/** `queuectl logs <id>`: the captured output of an attempt; `--follow` while it runs. */
import { jobNotFound, outputNotFound } from "../lib/errors.ts";
import { parsePositiveInt } from "../lib/options.ts";
import type { Storage } from "../lib/storage/storage.ts";
import { type CliContext, printJson, withStorage, writeAll } from "./_context.ts";

/** Options of `logs`. */
export interface LogsOptions {
  attempt?: string | undefined;
  follow?: boolean | undefined;
}

/** The part of `next` not yet printed, given what was printed before (`prev`). */
export function unseen(prev: string, next: string): string {
  if (next.startsWith(prev)) return next.slice(prev.length);
  // The kept tail moved past what we printed: find the overlap and go on after it.
  for (let cut = 1; cut < prev.length; cut++) {
    if (next.startsWith(prev.slice(cut))) return next.slice(prev.length - cut);
  }
  return next;
}

async function follow(store: Storage, id: string, attempt: number | undefined) {
  let out = "";
  let err = "";
  const deadline = Date.now() + 24 * 3_600_000;
  while (Date.now() < deadline) {
    const job = await store.jobGet({ id });
    if (!job) throw jobNotFound(id);
    const output = await store.runOutputGet({ id, attempt });
    if (output) {
      writeAll(Deno.stdout, unseen(out, output.stdout));
      writeAll(Deno.stderr, unseen(err, output.stderr));
      out = output.stdout;
      err = output.stderr;
    }
    const running = job.state === "processing" &&
      (attempt === undefined || attempt === job.attempts);
    if (!running && (output || job.state !== "pending")) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Prints stdout to stdout and stderr to stderr, or `{ id, attempt, stdout, stderr }`. */
export async function logs(
  ctx: CliContext,
  id: string,
  options: LogsOptions,
  json: boolean,
): Promise<void> {
  const attempt = parsePositiveInt("attempt", options.attempt);
  await withStorage(ctx, async (store) => {
    const job = await store.jobGet({ id });
    if (!job) throw jobNotFound(id);
    if (options.follow && !json) return await follow(store, id, attempt);
    const output = await store.runOutputGet({ id, attempt });
    if (!output) throw outputNotFound(job, { attempt }, "see `queuectl show` for its state");
    if (json) return printJson(ctx, output);
    writeAll(Deno.stdout, output.stdout);
    writeAll(Deno.stderr, output.stderr);
  });
}
