/**
 * Settings on SQLite: the `config` table of keys and JSON values, read over
 * the defaults. Each export is the `Storage` method of its name (documented
 * there).
 */
import {
  type Config,
  type ConfigKey,
  type ConfigValue,
  defaultConfig,
  parseConfigKey,
} from "../../config.ts";
import { promise, type SqliteDb } from "./connection.ts";

export function configGetAll(db: SqliteDb): Promise<Config> {
  return promise(() =>
    db.read(() => {
      const config = defaultConfig();
      for (const row of db.all("SELECT key, value FROM config")) {
        try {
          (config as Record<ConfigKey, ConfigValue>)[parseConfigKey(row.key as string)] = JSON
            .parse(
              row.value as string,
            );
        } catch {
          // A key from a newer version: ignore rather than fail every command.
        }
      }
      return config;
    })
  );
}

export function configSet(
  db: SqliteDb,
  params: { key: ConfigKey; value: ConfigValue },
): Promise<void> {
  return promise(() => {
    db.write(() =>
      db.run(
        "INSERT OR REPLACE INTO config (key, value) VALUES (?, ?)",
        params.key,
        JSON.stringify(params.value),
      )
    );
  });
}
