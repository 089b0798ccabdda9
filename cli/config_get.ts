/** `queuectl config get <key>`: one setting. */
import { parseConfigKey } from "../lib/config.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";

/** Prints the value alone, or `{ key: value }`. */
export async function configGet(ctx: CliContext, rawKey: string, json: boolean): Promise<void> {
  const key = parseConfigKey(rawKey);
  const config = await withStorage(ctx, (store) => store.configGetAll());
  if (json) return printJson(ctx, { [key]: config[key] });
  ctx.out(String(config[key]));
}
