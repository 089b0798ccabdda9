/**
 * This host's clock. Two test hooks move it, to show that a host whose
 * clock is wrong, or steps, still goes by the store's (DESIGN.md,
 * "Fencing"):
 * - `QUEUECTL_TEST_CLOCK_SKEW_MS`: a fixed shift, read at start;
 * - `QUEUECTL_TEST_CLOCK_FILE`: a file holding a shift in ms, re-read about
 *   every 100 ms by a timer (not per call: `localNow()` is on hot paths),
 *   so a test steps the clock mid-run by rewriting the file.
 */

const SKEW_MS = Number(Deno.env.get("QUEUECTL_TEST_CLOCK_SKEW_MS") ?? 0) || 0;

/** How often the clock file is re-read. */
const CLOCK_FILE_EVERY_MS = 100;

let stepMs = 0;

function readClockFile(path: string): void {
  try {
    const value = Number(Deno.readTextFileSync(path).trim());
    if (Number.isFinite(value)) stepMs = value;
  } catch { /* missing or being rewritten: keep the last value */ }
}

const clockFile = Deno.env.get("QUEUECTL_TEST_CLOCK_FILE");
if (clockFile) {
  readClockFile(clockFile);
  // Never keeps a process alive (nor a test's sanitizer busy) by itself.
  Deno.unrefTimer(setInterval(() => readClockFile(clockFile), CLOCK_FILE_EVERY_MS));
}

/** The local clock in epoch milliseconds, test shifts included. */
export function localNow(): number {
  return Date.now() + SKEW_MS + stepMs;
}
