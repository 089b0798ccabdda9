/**
 * This host's clock. `QUEUECTL_TEST_CLOCK_SKEW_MS` shifts it for tests that
 * show a host whose clock is wrong still goes by the store's (PostgreSQL's
 * `Storage.now()` corrects it; status shows the offset).
 */

const SKEW_MS = Number(Deno.env.get("QUEUECTL_TEST_CLOCK_SKEW_MS") ?? 0) || 0;

/** The local clock in epoch milliseconds, test skew included. */
export function localNow(): number {
  return Date.now() + SKEW_MS;
}
