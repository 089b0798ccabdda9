/** Settings: keys, defaults, parsing and ranges (README "Settings"). */
import { UsageError } from "./errors.ts";
import { EVENT_TYPES } from "./event.ts";
import { parseDuration } from "./job_input.ts";

/** One setting's rules. */
interface KeySpec {
  default: number;
  integer: boolean;
  min: number;
  max: number;
  unit: string;
  /** Also takes a duration such as "7d" or "12h" (stored in seconds). */
  duration?: boolean;
}

/** A setting whose value is text (a shell command, a URL), kept as given. */
interface TextSpec {
  default: string;
  text: true;
  /** Why `value` is refused, or `null` to accept it. */
  check?: (value: string) => string | null;
}

const MIB = 1024 * 1024;
const DAY_S = 86_400;

/** Every setting with its default and allowed range. */
export const CONFIG_KEYS = {
  max_retries: { default: 3, integer: true, min: 0, max: 100, unit: "" },
  backoff_base: { default: 2, integer: false, min: 1, max: Infinity, unit: "" },
  backoff_max: { default: 3600, integer: false, min: 0, max: Infinity, unit: "s" },
  job_timeout: { default: 60, integer: false, min: 0, max: Infinity, unit: "s" },
  output_limit: { default: 65536, integer: true, min: 0, max: 100 * MIB, unit: "bytes" },
  lease_timeout: { default: 30, integer: false, min: 2, max: Infinity, unit: "s" },
  // Retention (README "Keeping the database small"): how long final jobs are kept; 0 = forever.
  keep_completed: {
    default: 7 * DAY_S,
    integer: false,
    min: 0,
    max: Infinity,
    unit: "s",
    duration: true,
  },
  keep_cancelled: {
    default: 7 * DAY_S,
    integer: false,
    min: 0,
    max: Infinity,
    unit: "s",
    duration: true,
  },
  keep_dead: { default: 0, integer: false, min: 0, max: Infinity, unit: "s", duration: true },
  // README "Flow control": every retry delay spread within ±this fraction; 0 = none.
  backoff_jitter: { default: 0.1, integer: false, min: 0, max: 1, unit: "" },
  // Events, hooks and webhooks (README "Events"): how long events are kept (0 = forever).
  keep_events: { default: DAY_S, integer: false, min: 0, max: Infinity, unit: "s", duration: true },
  on_finish: { default: "", text: true },
  hook_timeout: { default: 30, integer: false, min: 0, max: Infinity, unit: "s" },
  webhook_url: { default: "", text: true, check: checkWebhookUrl },
  webhook_secret: { default: "", text: true },
  webhook_events: { default: "", text: true, check: checkWebhookEvents },
} as const satisfies Record<string, KeySpec | TextSpec>;

function checkWebhookUrl(value: string): string | null {
  if (value === "") return null;
  try {
    const url = new URL(value);
    if (url.protocol === "http:" || url.protocol === "https:") return null;
  } catch { /* refused below */ }
  return "webhook_url must be an http:// or https:// URL (empty turns webhooks off)";
}

function checkWebhookEvents(value: string): string | null {
  const bad = value.split(",").map((t) => t.trim()).filter((t) =>
    t !== "" && !(EVENT_TYPES as readonly string[]).includes(t)
  );
  return bad.length === 0
    ? null
    : `webhook_events must list event types (${EVENT_TYPES.join(", ")}), comma separated`;
}

/** A setting's name. */
export type ConfigKey = keyof typeof CONFIG_KEYS;

/** Every setting with its value: text for the text settings, a number for the others. */
export type Config = {
  [K in ConfigKey]: (typeof CONFIG_KEYS)[K] extends { text: true } ? string : number;
};

/** A setting's value. */
export type ConfigValue = number | string;

/** Whether a setting is text. */
export function isTextKey(key: ConfigKey): boolean {
  return "text" in CONFIG_KEYS[key];
}

/** The names of every setting, in display order. */
export const CONFIG_KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKey[];

/** The defaults of every setting. */
export function defaultConfig(): Config {
  return Object.fromEntries(CONFIG_KEY_NAMES.map((k) => [k, CONFIG_KEYS[k].default])) as Config;
}

/** Accepts `max_retries` and `max-retries`; refuses unknown keys listing the known ones. */
export function parseConfigKey(raw: string): ConfigKey {
  const key = raw.trim().toLowerCase().replaceAll("-", "_");
  if (Object.hasOwn(CONFIG_KEYS, key)) return key as ConfigKey;
  throw new UsageError(
    `Unknown config key "${raw}"`,
    `known keys: ${CONFIG_KEY_NAMES.join(", ")}`,
  );
}

/** Describes a key's allowed values, for error messages. */
export function describeRange(key: ConfigKey): string {
  const entry: KeySpec | TextSpec = CONFIG_KEYS[key];
  if ("text" in entry) return `${key} is text`;
  const spec = entry;
  const kind = spec.integer ? "an integer" : "a number";
  const range = spec.max === Infinity ? `>= ${spec.min}` : `from ${spec.min} to ${spec.max}`;
  if (spec.duration) {
    return `${key} must be seconds >= 0 or a duration like "12h" or "7d" (0 keeps forever)`;
  }
  return `${key} must be ${kind} ${range}${spec.unit ? ` (${spec.unit})` : ""}`;
}

/** Parses a value for `key` from text, checking type and range. */
export function parseConfigValue(key: ConfigKey, raw: string): ConfigValue {
  const entry: KeySpec | TextSpec = CONFIG_KEYS[key];
  if ("text" in entry) {
    const problem = entry.check?.(raw.trim()) ?? null;
    if (problem !== null) throw new UsageError(`Invalid value "${raw}" for ${key}`, problem);
    return raw.trim();
  }
  const spec = entry;
  const text = raw.trim();
  let value = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : NaN;
  if (spec.duration && Number.isNaN(value)) {
    const ms = parseDuration(text);
    if (ms !== null) value = ms / 1000;
  }
  if (
    !Number.isFinite(value) || (spec.integer && !Number.isInteger(value)) ||
    value < spec.min || value > spec.max
  ) {
    throw new UsageError(`Invalid value "${raw}" for ${key}`, describeRange(key));
  }
  return value;
}

/** Gap between a supervisor's heartbeats: a third of the lease, at most 2 s. */
export function heartbeatIntervalMs(config: Config): number {
  return Math.min(2000, (config.lease_timeout * 1000) / 3);
}

/**
 * The oldest heartbeat that is not late at `now`: two heartbeats missed
 * and a second more. A late worker is stalled or cut off, and will be
 * rescued if it stays silent for the whole lease.
 */
export function lateSince(config: Config, now: number): number {
  return now - 2 * heartbeatIntervalMs(config) - 1000;
}

/**
 * The oldest heartbeat of a live worker at `now`: one that has not renewed
 * its registry entry within a lease is gone (its jobs are being rescued).
 */
export function liveSince(config: Config, now: number): number {
  return now - config.lease_timeout * 1000;
}
