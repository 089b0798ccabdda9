import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/config.ts";
import { cliJson, runCli, storeTest } from "../_helpers.ts";
import { assertOk } from "./_cli.ts";

storeTest("config list --json prints every setting with its default", async (tmp) => {
  assert.deepEqual(await cliJson(["config", "list"], { db: tmp.db }), {
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

storeTest("config set stores a setting that later processes see, keys with _ or -", async (tmp) => {
  assert.equal(
    assertOk(await runCli(["config", "set", "max_retries", "5"], { db: tmp.db })),
    "max_retries = 5\n",
  );
  assert.equal(
    assertOk(await runCli(["config", "set", "backoff-base", "1.5"], { db: tmp.db })),
    "backoff_base = 1.5\n",
  );
  assert.equal(assertOk(await runCli(["config", "get", "max-retries"], { db: tmp.db })), "5\n");
  assert.deepEqual(await cliJson(["config", "get", "max_retries"], { db: tmp.db }), {
    max_retries: 5,
  });
  assert.deepEqual(await cliJson(["config", "get", "backoff_base"], { db: tmp.db }), {
    backoff_base: 1.5,
  });
  assert.deepEqual(await cliJson(["config", "list"], { db: tmp.db }), {
    ...defaultConfig(),
    max_retries: 5,
    backoff_base: 1.5,
  });
});

storeTest("config set accepts the edges of each range", async (tmp) => {
  for (const [key, value] of [["max_retries", "0"], ["backoff_max", "0"], ["lease_timeout", "2"]]) {
    assertOk(await runCli(["config", "set", key!, value!], { db: tmp.db }));
  }
  const config = await cliJson<Record<string, number>>(["config", "list"], { db: tmp.db });
  assert.deepEqual([config.max_retries, config.backoff_max, config.lease_timeout], [0, 0, 2]);
});

storeTest("config list prints one setting a line, marking defaults", async (tmp) => {
  assertOk(await runCli(["config", "set", "job-timeout", "0"], { db: tmp.db }));
  const lines = assertOk(await runCli(["config", "list"], { db: tmp.db })).trimEnd().split("\n");
  assert.deepEqual(lines, [
    "max_retries    = 3  (default)",
    "backoff_base   = 2  (default)",
    "backoff_max    = 3600 s  (default)",
    "job_timeout    = 0 s",
    "output_limit   = 65536 bytes  (default)",
    "lease_timeout  = 30 s  (default)",
    "keep_completed = 604800 s  (default)",
    "keep_cancelled = 604800 s  (default)",
    "keep_dead      = 0 s  (default)",
    "backoff_jitter = 0.1  (default)",
    "keep_events    = 86400 s  (default)",
    "on_finish      =   (default)",
    "hook_timeout   = 30 s  (default)",
    "webhook_url    =   (default)",
    "webhook_secret =   (default)",
    "webhook_events =   (default)",
  ]);
});
