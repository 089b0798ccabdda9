/** `queuectl backup <file>`: a consistent copy of a SQLite database while workers run. */
import { type CliContext, printJson, withStorage } from "./_context.ts";
import { formatBytes } from "./vacuum.ts";

/** Writes the copy to a new file and prints where and how big. */
export async function backup(ctx: CliContext, path: string, json: boolean): Promise<void> {
  const { bytes } = await withStorage(ctx, (store) => store.storeBackup({ path }));
  if (json) return printJson(ctx, { path, bytes });
  ctx.out(`backed up to ${path} (${formatBytes(bytes)})`);
}
