/** `queuectl vacuum`: returns freed space to the file system; prints the size before and after. */
import { type CliContext, printJson, withStorage } from "./_context.ts";

/** Formats a byte count for people: `1.5 MiB`. */
export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Vacuums the store and prints `before -> after`. */
export async function vacuum(ctx: CliContext, json: boolean): Promise<void> {
  const sizes = await withStorage(ctx, (store) => store.storeVacuum());
  if (json) return printJson(ctx, { before_bytes: sizes.before, after_bytes: sizes.after });
  ctx.out(
    `vacuumed: ${formatBytes(sizes.before)} before, ${formatBytes(sizes.after)} after ` +
      `(${formatBytes(Math.max(0, sizes.before - sizes.after))} freed)`,
  );
}
