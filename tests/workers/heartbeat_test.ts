/**
 * The heartbeat's reading of a renewal (DESIGN.md, "Fencing"): a running
 * attempt the reply no longer names was taken (ended at once); one it
 * names but this supervisor never got is a lost claim (given back) unless
 * a claim is out; a removed registry entry is registered again; the fence
 * is re-armed only for attempts a renewal confirmed.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/config.ts";
import type { AttemptRef, HeartbeatReply } from "../../lib/storage/storage.ts";
import { attemptKey, Heartbeat, type RunningAttempt } from "../../workers/heartbeat.ts";
import type { Settings } from "../../workers/settings.ts";
import { waitFor } from "../_helpers.ts";

interface Seen {
  lost: AttemptRef[][];
  ghosts: AttemptRef[][];
  fenced: AttemptRef[][];
  unregistered: number;
}

function heartbeat(
  options: {
    reply: () => Partial<HeartbeatReply>;
    running: () => RunningAttempt[];
    owned?: string[];
    claimInFlight?: () => boolean;
    leaseS?: number;
  },
): { beat: Heartbeat; seen: Seen } {
  const config = { ...defaultConfig(), lease_timeout: options.leaseS ?? 30 };
  const settings = { current: config, fresh: () => Promise.resolve(config) } as unknown as Settings;
  const seen: Seen = { lost: [], ghosts: [], fenced: [], unregistered: 0 };
  const owned = new Set(options.owned ?? []);
  const beat = new Heartbeat({
    store: {
      now: () => Date.now(),
      workerHeartbeat: () =>
        Promise.resolve({
          stopRequested: null,
          cancelRequested: [],
          held: [],
          registered: true,
          ...options.reply(),
        }),
      workerRequestsGet: () => Promise.resolve({ stopRequested: null, cancelRequested: [] }),
    },
    workerId: "w1",
    settings,
    intervalMs: 3_600_000,
    running: options.running,
    owns: (ref) => owned.has(attemptKey(ref)),
    claimInFlight: options.claimInFlight ?? (() => false),
    onRequests: () => {},
    onRecovered: () => {},
    onLost: (a) => seen.lost.push(a),
    onGhosts: (a) => seen.ghosts.push(a),
    onUnregistered: () => seen.unregistered++,
    fence: (a) => seen.fenced.push(a),
    onError: (message) => {
      throw new Error(message);
    },
  });
  return { beat, seen };
}

Deno.test("a running attempt the renewal no longer names is lost; one handed over after it was sent is not", async () => {
  const before = performance.now();
  let running: RunningAttempt[] = [
    { id: "taken", attempt: 1, handedAt: before },
    { id: "kept", attempt: 2, handedAt: before },
  ];
  const { beat, seen } = heartbeat({
    reply: () => ({ held: [{ id: "kept", attempt: 2 }] }),
    running: () => running,
    owned: ["1 taken", "2 kept"],
  });
  try {
    await beat.beat();
    assert.deepEqual(seen.lost, [[{ id: "taken", attempt: 1 }]]);
    // A claim answered after the renewal was sent: not judged by it.
    running = [{ id: "new", attempt: 1, handedAt: performance.now() + 60_000 }];
    await beat.beat();
    assert.equal(seen.lost.length, 1);
    assert.deepEqual(seen.ghosts, []);
  } finally {
    beat.stop();
  }
});

Deno.test("an attempt held but never received is given back, unless a claim is out", async () => {
  let out = true;
  const { beat, seen } = heartbeat({
    reply: () => ({ held: [{ id: "ghost", attempt: 1 }, { id: "finishing", attempt: 1 }] }),
    running: () => [],
    owned: ["1 finishing"], // ran here; its finish is not written yet
    claimInFlight: () => out,
  });
  try {
    await beat.beat();
    assert.deepEqual(seen.ghosts, [], "the claim out may be the one that took it");
    out = false;
    await beat.beat();
    assert.deepEqual(seen.ghosts, [[{ id: "ghost", attempt: 1 }]]);
  } finally {
    beat.stop();
  }
});

Deno.test("a heartbeat whose registry entry is gone registers again", async () => {
  const { beat, seen } = heartbeat({ reply: () => ({ registered: false }), running: () => [] });
  try {
    await beat.beat();
    assert.equal(seen.unregistered, 1);
  } finally {
    beat.stop();
  }
});

Deno.test("only attempts a renewal confirmed have their fence re-armed", async () => {
  // A 2 s lease: fenced 1.2 s after the last confirmation.
  const handedAt = performance.now();
  const running: RunningAttempt[] = [
    { id: "kept", attempt: 1, handedAt },
    { id: "unconfirmed", attempt: 1, handedAt },
  ];
  const { beat, seen } = heartbeat({
    // Named held, so not lost: but only "kept" is confirmed by each renewal.
    reply: () => ({ held: [{ id: "kept", attempt: 1 }] }),
    running: () => running,
    owned: ["1 kept", "1 unconfirmed"],
    leaseS: 2,
  });
  try {
    beat.claimed(running, handedAt, 2000);
    const keepBeating = setInterval(() => void beat.beat(), 300);
    try {
      await waitFor(() => seen.fenced.length > 0, { timeoutMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      clearInterval(keepBeating);
    }
    assert.deepEqual(seen.fenced.flat().map((a) => a.id), ["unconfirmed"]);
  } finally {
    beat.stop();
  }
});
