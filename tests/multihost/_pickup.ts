/**
 * Pickup latency of one host's idle workers: a probe job goes to a queue
 * only that host serves (`probe-<host>`), and the latency is from the
 * job's creation (server clock, here the same machine's) to the `date`
 * its shell printed on start. One host's poll backstop alone (a look every
 * second) gives a uniform 0–1000 ms, so a median of 7 samples at most
 * {@linkcode PICKUP_OK_MS} comes from a working LISTEN with a chance of a
 * false pass of about 1%.
 */
import type { Storage } from "../../lib/storage/storage.ts";
import type { Host } from "../_netns.ts";
import { type AttemptWatch, eventLine } from "./_events.ts";

/** A pickup at most this long counts as "in milliseconds" (LISTEN at work). */
export const PICKUP_OK_MS = 150;

/** The queue only `host` serves among the hosts of a test. */
export function probeQueue(host: Host): string {
  return `probe-${host.name}`;
}

/** `worker start` arguments: `--count 4`, the default queue and the host's probe queue. */
export function probeArgs(host: Host): string[] {
  return ["--count", "4", "--queue", "default", "--queue", probeQueue(host)];
}

let probes = 0;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Enqueues one probe for `host` and returns its pickup latency in ms, or
 * `Infinity` when it has not started within `timeoutMs`.
 */
export async function pickupMs(
  store: Storage,
  watch: AttemptWatch,
  host: Host,
  timeoutMs = 3000,
): Promise<number> {
  const id = `probe-${host.name}-${++probes}`;
  // A random pause: probes never line up with the workers' poll timers.
  await delay(Math.random() * 200);
  const now = store.now();
  await store.jobInsertMany({
    jobs: [{
      id,
      command: eventLine(watch.file, "start"),
      queue: probeQueue(host),
      priority: 0,
      max_retries: 0,
      timeout: null,
      env: null,
      cwd: null,
      run_at: now,
      after: null,
      key: null,
      retry_on: null,
    }],
    now,
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    watch.poll();
    const start = watch.events().find((e) => e.id === id && e.kind === "start");
    if (start) return start.ms - now;
    await delay(10);
  }
  return Infinity;
}

/** The median of some numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Seven samples of a host's pickup latency. */
export async function pickupSamples(
  store: Storage,
  watch: AttemptWatch,
  host: Host,
  count = 7,
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) samples.push(await pickupMs(store, watch, host));
  return samples;
}

/**
 * Probes `host` until three pickups in a row take at most
 * {@linkcode PICKUP_OK_MS}; returns when that run began (epoch ms) and
 * every sample, or `null` for the time when `deadline` passed first.
 */
export async function pickupRecovery(
  store: Storage,
  watch: AttemptWatch,
  host: Host,
  deadline: number,
): Promise<{ okSince: number | null; samples: number[] }> {
  const samples: number[] = [];
  let run: number[] = [];
  while (Date.now() < deadline) {
    const began = Date.now();
    const ms = await pickupMs(store, watch, host, Math.max(500, deadline - Date.now()));
    samples.push(ms);
    run = ms <= PICKUP_OK_MS ? [...run, began] : [];
    if (run.length === 3) return { okSince: run[0]!, samples };
  }
  return { okSince: null, samples };
}
