import assert from "node:assert/strict";
import { backoffSeconds, jobBackoff, nextRunAt } from "../../lib/backoff.ts";

const NOW = Date.UTC(2026, 10, 28, 10, 30, 0, 123);

Deno.test("backoffSeconds() doubles with base 2: 2 s, 4 s, 8 s", () => {
  const options = { base: 2, max: 3600 };
  assert.deepEqual([1, 2, 3, 4].map((k) => backoffSeconds(k, options)), [2, 4, 8, 16]);
});

Deno.test("backoffSeconds() follows other bases, fractional ones too", () => {
  assert.equal(backoffSeconds(3, { base: 3, max: 3600 }), 27);
  assert.equal(backoffSeconds(2, { base: 1.5, max: 3600 }), 2.25);
});

Deno.test("backoffSeconds() with base 1 waits one second after every attempt", () => {
  const options = { base: 1, max: 3600 };
  assert.deepEqual([1, 2, 10, 100].map((k) => backoffSeconds(k, options)), [1, 1, 1, 1]);
});

Deno.test("backoffSeconds() caps the delay at backoff_max", () => {
  const options = { base: 2, max: 60 };
  assert.equal(backoffSeconds(5, options), 32);
  assert.equal(backoffSeconds(6, options), 60);
  assert.equal(backoffSeconds(7, options), 60);
});

Deno.test("backoffSeconds() stays at the cap when base ^ attempt overflows", () => {
  assert.equal(backoffSeconds(5000, { base: 2, max: 3600 }), 3600);
  assert.equal(backoffSeconds(5000, { base: 10, max: 120.5 }), 120.5);
});

Deno.test("backoffSeconds() with backoff_max 0 retries at once", () => {
  assert.equal(backoffSeconds(1, { base: 2, max: 0 }), 0);
  assert.equal(backoffSeconds(9, { base: 2, max: 0 }), 0);
});

Deno.test("nextRunAt() adds the delay in milliseconds to now", () => {
  assert.equal(nextRunAt(NOW, 1, { base: 2, max: 3600 }), NOW + 2000);
  assert.equal(nextRunAt(NOW, 3, { base: 2, max: 3600 }), NOW + 8000);
  assert.equal(nextRunAt(NOW, 30, { base: 2, max: 3600 }), NOW + 3_600_000);
});

Deno.test("nextRunAt() rounds fractional seconds to whole milliseconds", () => {
  // 1.1 ^ 3 = 1.331 s
  assert.equal(nextRunAt(NOW, 3, { base: 1.1, max: 3600 }), NOW + 1331);
  assert.ok(Number.isInteger(nextRunAt(NOW, 7, { base: 1.37, max: 3600 })));
});

Deno.test("nextRunAt() depends only on its arguments", () => {
  const options = { base: 2, max: 3600 };
  assert.equal(nextRunAt(0, 2, options), 4000);
  assert.equal(nextRunAt(NOW, 2, options) - NOW, nextRunAt(0, 2, options));
});

Deno.test("backoffSeconds() with jitter 0.1 keeps 1,000 delays within ±10%, not all equal", () => {
  const options = { base: 2, max: 3600, jitter: 0.1 };
  const delays = Array.from({ length: 1000 }, () => backoffSeconds(1, options));
  for (const delay of delays) assert.ok(delay >= 1.8 && delay <= 2.2, `${delay} within 2 s ±10%`);
  assert.ok(new Set(delays).size > 1, "not all equal");
});

Deno.test("backoffSeconds() spreads by the injected random source, after the cap", () => {
  const options = { base: 2, max: 10, jitter: 0.5 };
  assert.equal(backoffSeconds(10, options, () => 0), 5, "the cap, less half");
  assert.equal(backoffSeconds(10, options, () => 0.5), 10, "the middle is the delay itself");
  assert.equal(backoffSeconds(1, { ...options, jitter: 0 }, () => 0), 2, "jitter 0: none");
});

Deno.test("jobBackoff() prefers the job's own base and max, with the setting's jitter", () => {
  const config = { backoff_base: 2, backoff_max: 3600, backoff_jitter: 0.1 };
  assert.deepEqual(jobBackoff({ backoff_base: 3, backoff_max: null }, config), {
    base: 3,
    max: 3600,
    jitter: 0.1,
  });
  assert.equal(
    nextRunAt(1000, 2, jobBackoff({ backoff_base: 3, backoff_max: 5 }, config), () => 0.5),
    6000,
  );
});
