import assert from "node:assert/strict";
import {
  CONFIG_KEY_NAMES,
  CONFIG_KEYS,
  defaultConfig,
  describeRange,
  parseConfigKey,
  parseConfigValue,
} from "../../lib/config.ts";
import { UsageError } from "../../lib/errors.ts";

/** Asserts that `fn` throws a UsageError (exit 2) whose line matches every pattern. */
function assertUsageError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    assert.equal(error.exitCode, 2);
    const line = `${error.message}; ${error.hint ?? ""}`;
    for (const pattern of patterns) assert.match(line, pattern);
    return true;
  });
}

Deno.test("defaultConfig() holds the defaults of README 'Settings'", () => {
  assert.deepEqual(defaultConfig(), {
    max_retries: 3,
    backoff_base: 2,
    backoff_max: 3600,
    job_timeout: 60,
    output_limit: 65536,
    lease_timeout: 30,
    keep_completed: 604800,
    keep_cancelled: 604800,
    keep_dead: 0,
    backoff_jitter: 0.1,
    keep_events: 86400,
    on_finish: "",
    hook_timeout: 30,
    webhook_url: "",
    webhook_secret: "",
    webhook_events: "",
  });
});

Deno.test("defaultConfig() returns a fresh object each time", () => {
  const config = defaultConfig();
  config.max_retries = 99;
  assert.equal(defaultConfig().max_retries, 3);
});

Deno.test("CONFIG_KEY_NAMES lists every key in display order", () => {
  assert.deepEqual(CONFIG_KEY_NAMES, [
    "max_retries",
    "backoff_base",
    "backoff_max",
    "job_timeout",
    "output_limit",
    "lease_timeout",
    "keep_completed",
    "keep_cancelled",
    "keep_dead",
    "backoff_jitter",
    "keep_events",
    "on_finish",
    "hook_timeout",
    "webhook_url",
    "webhook_secret",
    "webhook_events",
  ]);
  assert.deepEqual(Object.keys(CONFIG_KEYS), CONFIG_KEY_NAMES);
});

Deno.test("parseConfigKey() accepts keys with underscores or dashes", () => {
  for (const key of CONFIG_KEY_NAMES) {
    assert.equal(parseConfigKey(key), key);
    assert.equal(parseConfigKey(key.replaceAll("_", "-")), key);
  }
  assert.equal(parseConfigKey("max-retries"), "max_retries");
  assert.equal(parseConfigKey("max_retries"), "max_retries");
});

Deno.test("parseConfigKey() ignores case and surrounding spaces", () => {
  assert.equal(parseConfigKey(" Backoff-Base "), "backoff_base");
});

Deno.test("parseConfigKey() refuses an unknown key, quoting it and listing the known ones", () => {
  assertUsageError(
    () => parseConfigKey("max_retry"),
    /Unknown config key "max_retry"/,
    /max_retries, backoff_base, backoff_max, job_timeout, output_limit, lease_timeout/,
  );
  assertUsageError(() => parseConfigKey(""), /Unknown config key ""/);
  assertUsageError(() => parseConfigKey("__proto__"), /Unknown config key "__proto__"/);
  assertUsageError(() => parseConfigKey("toString"), /Unknown config key "toString"/);
});

Deno.test("parseConfigValue() accepts numbers inside each key's range", () => {
  assert.equal(parseConfigValue("max_retries", "0"), 0);
  assert.equal(parseConfigValue("max_retries", "5"), 5);
  assert.equal(parseConfigValue("max_retries", "100"), 100);
  assert.equal(parseConfigValue("backoff_base", "1"), 1);
  assert.equal(parseConfigValue("backoff_base", "1.5"), 1.5);
  assert.equal(parseConfigValue("backoff_max", "0"), 0);
  assert.equal(parseConfigValue("backoff_max", "86400"), 86400);
  assert.equal(parseConfigValue("job_timeout", "0"), 0);
  assert.equal(parseConfigValue("job_timeout", "0.25"), 0.25);
  assert.equal(parseConfigValue("output_limit", "0"), 0);
  assert.equal(parseConfigValue("output_limit", String(100 * 1024 * 1024)), 104857600);
  assert.equal(parseConfigValue("lease_timeout", "2"), 2);
});

Deno.test("parseConfigValue() accepts spaces, a plus sign and exponents", () => {
  assert.equal(parseConfigValue("max_retries", " 7 "), 7);
  assert.equal(parseConfigValue("job_timeout", "+30"), 30);
  assert.equal(parseConfigValue("job_timeout", "1e3"), 1000);
  assert.equal(parseConfigValue("backoff_base", ".5e1"), 5);
});

Deno.test("parseConfigValue() refuses a non-integer for integer keys", () => {
  assertUsageError(
    () => parseConfigValue("max_retries", "1.5"),
    /Invalid value "1.5" for max_retries/,
    /max_retries must be an integer from 0 to 100/,
  );
  assertUsageError(
    () => parseConfigValue("output_limit", "10.5"),
    /output_limit must be an integer/,
  );
});

Deno.test("parseConfigValue() refuses values below the minimum", () => {
  assertUsageError(() => parseConfigValue("max_retries", "-1"), /Invalid value "-1"/);
  assertUsageError(
    () => parseConfigValue("backoff_base", "0.99"),
    /backoff_base must be a number >= 1/,
  );
  assertUsageError(
    () => parseConfigValue("backoff_max", "-0.5"),
    /backoff_max must be a number >= 0/,
  );
  assertUsageError(() => parseConfigValue("job_timeout", "-1"), /job_timeout/);
  assertUsageError(() => parseConfigValue("output_limit", "-1"), /output_limit/);
  assertUsageError(
    () => parseConfigValue("lease_timeout", "1.9"),
    /lease_timeout must be a number >= 2 \(s\)/,
  );
});

Deno.test("parseConfigValue() refuses values above the maximum", () => {
  assertUsageError(
    () => parseConfigValue("max_retries", "101"),
    /max_retries must be an integer from 0 to 100/,
  );
  assertUsageError(
    () => parseConfigValue("output_limit", String(100 * 1024 * 1024 + 1)),
    /output_limit must be an integer from 0 to 104857600 \(bytes\)/,
  );
});

Deno.test("parseConfigValue() refuses text that is not a plain number", () => {
  for (
    const raw of [
      "",
      " ",
      "abc",
      "5s",
      "0x10",
      "1,5",
      "Infinity",
      "-Infinity",
      "NaN",
      "1e999",
      "true",
      "[]",
    ]
  ) {
    assertUsageError(
      () => parseConfigValue("job_timeout", raw),
      new RegExp(`Invalid value "${raw.replace(/[[\]]/g, "\\$&")}" for job_timeout`),
    );
  }
});

Deno.test("describeRange() says the type, the range and the unit", () => {
  assert.equal(describeRange("max_retries"), "max_retries must be an integer from 0 to 100");
  assert.equal(describeRange("backoff_base"), "backoff_base must be a number >= 1");
  assert.equal(describeRange("backoff_max"), "backoff_max must be a number >= 0 (s)");
  assert.equal(describeRange("lease_timeout"), "lease_timeout must be a number >= 2 (s)");
});

Deno.test("every default lies inside its own range", () => {
  const defaults = defaultConfig();
  for (const key of CONFIG_KEY_NAMES) {
    assert.equal(parseConfigValue(key, String(defaults[key])), defaults[key], key);
  }
});

Deno.test("parseConfigValue() takes seconds or a duration for the retention keys", () => {
  assert.equal(parseConfigValue("keep_completed", "7d"), 604800);
  assert.equal(parseConfigValue("keep_cancelled", "1h30m"), 5400);
  assert.equal(parseConfigValue("keep_dead", "0"), 0);
  assert.equal(parseConfigValue("keep_dead", "2.5"), 2.5);
  for (const bad of ["-1", "forever", "7 days", "", "1d-"]) {
    assert.throws(() => parseConfigValue("keep_completed", bad), UsageError, bad);
  }
  // Durations only for the retention keys.
  assert.throws(() => parseConfigValue("job_timeout", "1m"), UsageError);
});
