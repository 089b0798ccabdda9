/** What every command receives from `main.ts`: global options and output streams. */
import { openStorage, resolveDbLocation } from "../lib/storage/open_storage.ts";
import type { Storage } from "../lib/storage/storage.ts";

/** Global options and how to print. */
export interface CliContext {
  /** The `--db` flag, if given. */
  db: string | undefined;
  /** Colour on: a terminal, no `--no-color`, no `NO_COLOR`. */
  color: boolean;
  /** Writes a line (or lines) to stdout. */
  out: (text: string) => void;
  /** Writes a line to stderr. */
  err: (text: string) => void;
}

const encoder = new TextEncoder();

/** Writes all of `text` to a stream synchronously (order with other writes is kept). */
export function writeAll(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

/** Opens the store for a command and closes it when `fn` ends, whatever happens. */
export async function withStorage<T>(
  ctx: CliContext,
  fn: (store: Storage) => Promise<T>,
): Promise<T> {
  await using store = await openStorage(resolveDbLocation(ctx.db));
  return await fn(store);
}

/** Prints one JSON document. */
export function printJson(ctx: CliContext, value: unknown): void {
  ctx.out(JSON.stringify(value, null, 2));
}
