/**
 * Storage conformance cases for settings. Every store runs them through
 * `storageConformance()` (`../conformance.ts`).
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../../../lib/config.ts";
import type { ConformanceTest } from "./_harness.ts";

/** Registers the cases for settings. */
export function configConformance(test: ConformanceTest): void {
  // --- config ---

  test("configGetAll() gives the defaults on a new store", async (store) => {
    assert.deepEqual(await store.configGetAll(), defaultConfig());
  });

  test("configSet() stores a setting and leaves the others at their defaults", async (store) => {
    await store.configSet({ key: "max_retries", value: 5 });
    await store.configSet({ key: "backoff_base", value: 1.5 });
    await store.configSet({ key: "max_retries", value: 0 });
    assert.deepEqual(await store.configGetAll(), {
      ...defaultConfig(),
      max_retries: 0,
      backoff_base: 1.5,
    });
  });
}
