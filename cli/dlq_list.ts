/** `queuectl dlq list`: the dead letter queue, newest first. */
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { parseLimit } from "../lib/options.ts";
import { printJobTable } from "./list.ts";

/** Prints the dead jobs. */
export async function dlqList(
  ctx: CliContext,
  options: { limit?: string | undefined },
  json: boolean,
): Promise<void> {
  const limit = parseLimit(options.limit);
  const page = await withStorage(ctx, (store) => store.jobList({ state: "dead", limit }));
  if (json) return printJson(ctx, page.jobs);
  printJobTable(ctx, page.jobs);
}
