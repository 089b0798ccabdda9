/** `queuectl config list`: every setting with its value. */
import { CONFIG_KEY_NAMES, CONFIG_KEYS } from "../lib/config.ts";
import { type CliContext, printJson, withStorage } from "./_context.ts";

/** Prints `key = value` lines (marking defaults), or `{ key: value, ... }`. */
export async function configList(ctx: CliContext, json: boolean): Promise<void> {
  const config = await withStorage(ctx, (store) => store.configGetAll());
  if (json) return printJson(ctx, config);
  for (const key of CONFIG_KEY_NAMES) {
    const spec = CONFIG_KEYS[key];
    const unit = "unit" in spec && spec.unit ? ` ${spec.unit}` : "";
    const note = config[key] === spec.default ? "  (default)" : "";
    const shown = key === "webhook_secret" && config[key] !== "" ? "(set)" : config[key];
    ctx.out(`${key.padEnd(14)} = ${shown}${unit}${note}`);
  }
}
