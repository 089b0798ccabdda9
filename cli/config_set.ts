/** `queuectl config set <key> <value>`: stores one setting; running workers pick it up. */
import { parseConfigKey, parseConfigValue } from "../lib/config.ts";
import { type CliContext, withStorage } from "./_context.ts";

/** Validates and stores a setting, then prints `key = value`. */
export async function configSet(ctx: CliContext, rawKey: string, rawValue: string): Promise<void> {
  const key = parseConfigKey(rawKey);
  const value = parseConfigValue(key, rawValue);
  await withStorage(ctx, (store) => store.configSet({ key, value }));
  ctx.out(`${key} = ${value}`);
}
