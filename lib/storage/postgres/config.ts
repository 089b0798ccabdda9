/** Settings on PostgreSQL: one row per key, its value as JSON text. */
import {
  type Config,
  type ConfigKey,
  type ConfigValue,
  defaultConfig,
  parseConfigKey,
} from "../../config.ts";
import { begin, call, notify, type PgDb, q } from "./connection.ts";

/** Every setting: the defaults, overridden by the stored values this version knows. */
export function configGetAll(pg: PgDb): Promise<Config> {
  return call(pg, async () => {
    const config = defaultConfig();
    for (const row of await q(pg.sql, "SELECT key, value FROM config")) {
      try {
        (config as Record<ConfigKey, ConfigValue>)[parseConfigKey(row.key as string)] = JSON.parse(
          row.value as string,
        );
      } catch {
        // A key from a newer version: ignore rather than fail every command.
      }
    }
    return config;
  });
}

const SET = `INSERT INTO config (key, value) VALUES ($1, $2)
  ON CONFLICT (key) DO UPDATE SET value = excluded.value`;

/** Stores one setting; wakes the workers, which re-read their settings. */
export function configSet(pg: PgDb, params: { key: ConfigKey; value: ConfigValue }): Promise<void> {
  return call(pg, async () => {
    await begin(pg, async (tx) => {
      await q(tx, SET, [params.key, JSON.stringify(params.value)]);
      await notify(pg, tx);
    });
  });
}
