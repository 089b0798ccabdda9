/**
 * The completer against a fake store: what arrives together is written in
 * one `runRecordMany`, one flush at a time; finishes are guarded (a result
 * dropped by the store says so in its event); a failed flush is tried
 * again and loses nothing; close() writes what is left.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/config.ts";
import type {
  ClaimedJob,
  ClaimParams,
  RunFinish,
  RunOutputUpdate,
  RunStart,
} from "../../lib/storage/storage.ts";
import {
  type AttemptEnd,
  Completer,
  type CompleterOptions,
  type CompleterStore,
} from "../../workers/completer.ts";
import type { SupervisorEvent } from "../../workers/events.ts";
import type { CommandOutcome } from "../../workers/messages.ts";
import { SlotCount } from "../../workers/slot_count.ts";
import { waitFor } from "../_helpers.ts";

interface Batch {
  starts: RunStart[];
  outputs: RunOutputUpdate[];
  finishes: RunFinish[];
  claim?: ClaimParams | undefined;
}

/**
 * A store that records every `runRecordMany`; `plan` decides each call's
 * applied finishes; a claim takes `limit` jobs named `next-<call>-<i>`.
 */
function fakeStore(
  plan: (batch: Batch, call: number) => Promise<string[]> | string[] = (b) =>
    b.finishes.map((f) => f.id),
) {
  const calls: Batch[] = [];
  let inFlight = 0;
  let overlapped = false;
  const store: CompleterStore = {
    now: () => Date.now(),
    async runRecordMany(batch) {
      calls.push(structuredClone(batch));
      inFlight++;
      if (inFlight > 1) overlapped = true;
      try {
        const call = calls.length;
        const applied = await plan(batch, call);
        const claimed = Array.from({ length: batch.claim?.limit ?? 0 }, (_, i) => {
          return job(`next-${call}-${i}`);
        });
        return { applied, claimed };
      } finally {
        inFlight--;
      }
    },
  };
  return { store, calls, overlapped: () => overlapped };
}

function job(id: string, attempt = 1): ClaimedJob {
  return { id, attempt, max_retries: null } as unknown as ClaimedJob;
}

function end(id: string, outcome: CommandOutcome, attempt = 1): AttemptEnd {
  return {
    slot: 1,
    job: job(id, attempt),
    maxRetries: 3,
    startedAt: Date.now() - 10,
    result: {
      outcome,
      exitCode: outcome.kind === "succeeded" ? 0 : null,
      signal: null,
      stdout: new TextEncoder().encode(`${id} out`),
      stderr: new Uint8Array(),
      finishedAt: Date.now(),
    },
    config: { ...defaultConfig(), backoff_base: 2 },
  };
}

function setup(
  plan?: Parameters<typeof fakeStore>[0],
  ride?: CompleterOptions["ride"],
) {
  const fake = fakeStore(plan);
  const events: SupervisorEvent[] = [];
  const written: number[] = [];
  const slotCount = new SlotCount(2);
  const completer = new Completer({
    store: fake.store,
    workerId: "w1",
    host: "h1",
    onEvent: (e) => events.push(e),
    slotCount,
    ride,
    onFinishesWritten: (n) => written.push(n),
    retryMs: 20,
  });
  return { ...fake, events, written, completer, slotCount };
}

const ends = (events: SupervisorEvent[]) =>
  events.filter((e): e is Extract<SupervisorEvent, { type: "job:end" }> => e.type === "job:end");
const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("the completer writes what arrived together in one runRecordMany", async () => {
  const { completer, calls, events, written } = setup();
  completer.started("a", 1, 101, "5");
  completer.started("b", 1, 102, "6");
  completer.output("a", 1, bytes("1"), new Uint8Array());
  completer.output("a", 1, bytes("12"), new Uint8Array());
  completer.output("b", 1, bytes("x"), new Uint8Array());
  completer.finished(end("b", { kind: "succeeded" }));
  await completer.close();

  assert.equal(calls.length, 1, "one write for the whole batch");
  const [batch] = calls;
  assert.deepEqual(batch!.starts.map((s) => [s.id, s.pgid, s.procStart, s.workerId, s.host]), [
    ["a", 101, "5", "w1", "h1"],
    ["b", 102, "6", "w1", "h1"],
  ]);
  // Only a's newest snapshot; b's output goes with its finish.
  assert.deepEqual(batch!.outputs.map((o) => [o.id, new TextDecoder().decode(o.stdout)]), [
    ["a", "12"],
  ]);
  assert.deepEqual(batch!.finishes.map((f) => [f.id, f.state, f.outcome]), [
    ["b", "completed", "succeeded"],
  ]);
  assert.deepEqual(ends(events).map((e) => [e.id, e.state, e.applied]), [["b", "completed", true]]);
  assert.deepEqual(written, [1]);
  assert.equal(completer.pending, 0);
});

Deno.test("a start and a finish that arrive together are one write; a start alone goes at once", async () => {
  const { completer, calls } = setup();
  completer.started("short", 1, 101, null);
  completer.finished(end("short", { kind: "succeeded" }));
  await waitFor(() => calls.length === 1, { message: "the short job's write" });
  assert.deepEqual(calls[0]!.starts.map((s) => s.id), ["short"]);
  assert.deepEqual(calls[0]!.finishes.map((f) => f.id), ["short"]);

  completer.started("long", 1, 102, null);
  await waitFor(() => calls.length === 2, { message: "the long job's start to be written" });
  assert.deepEqual(calls[1]!.starts.map((s) => s.id), ["long"]);
  assert.deepEqual(calls[1]!.finishes, []);
  await completer.close();
  assert.equal(calls.length, 2);
});

Deno.test("the completer flushes one at a time: what comes during a write goes in the next", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { completer, calls, overlapped } = setup(async (batch, call) => {
    if (call === 1) await gate;
    return batch.finishes.map((f) => f.id);
  });
  completer.started("a", 1, 101, null);
  await waitFor(() => calls.length === 1, { message: "the first write to begin" });
  completer.finished(end("a", { kind: "succeeded" }));
  completer.started("c", 1, 103, null);
  completer.finished(end("c", { kind: "failed", exitCode: 1, signal: null }));
  assert.equal(calls.length, 1, "nothing written while the first write is out");
  release();
  await completer.close();
  assert.equal(overlapped(), false, "two writes were out at once");
  assert.equal(calls.length, 2);
  assert.deepEqual(calls[1]!.starts.map((s) => s.id), ["c"]);
  assert.deepEqual(calls[1]!.finishes.map((f) => [f.id, f.state]), [
    ["a", "completed"],
    ["c", "failed"],
  ]);
  const retry = calls[1]!.finishes[1]!;
  assert.ok(retry.nextRunAt !== null && retry.nextRunAt > retry.finishedAt, "a retry is due later");
});

Deno.test("a finish the store does not apply (rescued meanwhile) is reported as dropped", async () => {
  const { completer, events, written } = setup((batch) =>
    batch.finishes.map((f) => f.id).filter((id) => id !== "late")
  );
  completer.finished(end("ok", { kind: "succeeded" }));
  completer.finished(end("late", { kind: "succeeded" }, 2));
  await completer.close();
  assert.deepEqual(ends(events).map((e) => [e.id, e.applied]), [["ok", true], ["late", false]]);
  assert.deepEqual(written, [2]);
});

Deno.test("a failed flush is tried again and loses nothing, in order", async () => {
  let down = true;
  const { completer, calls, events } = setup((batch, call) => {
    if (down) throw new Error(`database is locked (${call})`);
    return batch.finishes.map((f) => f.id);
  });
  completer.started("a", 1, 101, null);
  completer.output("a", 1, bytes("partial"), new Uint8Array());
  completer.output("b", 1, bytes("b so far"), new Uint8Array());
  await waitFor(() => calls.length >= 1, { message: "the first write" });
  completer.started("c", 1, 103, null);
  completer.finished(end("a", { kind: "timedOut", seconds: 5 }));
  await waitFor(() => calls.length >= 3, { message: "the failed write to be tried again" });
  assert.equal(ends(events).length, 0, "no job:end before it is written");
  down = false;
  await waitFor(() => completer.pending === 0 && ends(events).length > 0, {
    message: "the records to be written after the store came back",
  });

  const errors = events.filter((e) => e.type === "supervisor:error");
  assert.ok(errors.length >= 2, JSON.stringify(events));
  const written = calls.at(-1)!;
  assert.deepEqual(written.starts.map((s) => s.id), ["a", "c"], "starts in order");
  assert.deepEqual(written.outputs.map((o) => o.id), ["b"], "a's finish carries its output");
  assert.deepEqual(written.finishes.map((f) => [f.id, f.outcome, f.state]), [
    ["a", "timed_out", "failed"],
  ]);
  assert.equal(new TextDecoder().decode(written.finishes[0]!.stdout ?? undefined), "a out");
  assert.deepEqual(ends(events).map((e) => [e.id, e.applied]), [["a", true]]);
  await completer.close();
});

Deno.test("close() keeps trying until written, and reports what it could not write", async () => {
  let down = 3;
  const back = setup((batch) => {
    if (down-- > 0) throw new Error("server closed the connection");
    return batch.finishes.map((f) => f.id);
  });
  back.completer.finished(end("x", { kind: "succeeded" }));
  await back.completer.close(5000);
  assert.equal(back.completer.pending, 0);
  assert.deepEqual(ends(back.events).map((e) => [e.id, e.applied]), [["x", true]]);

  const gone = setup(() => {
    throw new Error("server closed the connection");
  });
  gone.completer.started("y", 1, 1, null);
  gone.completer.finished(end("y", { kind: "succeeded" }));
  await gone.completer.close(200);
  assert.equal(gone.completer.pending, 2, "kept, not dropped silently");
  const last = gone.events.at(-1);
  assert.ok(
    last?.type === "supervisor:error" && /could not record 1 finished and 1 started/.test(
      last.message,
    ),
    JSON.stringify(last),
  );
});

Deno.test("a forced stop puts the job back as pending without counting the attempt", async () => {
  const { completer, calls } = setup();
  completer.finished(end("f", { kind: "killed", reason: "force" }, 4));
  await completer.close();
  const finish = calls[0]!.finishes[0]!;
  assert.equal(finish.state, "pending");
  assert.equal(finish.uncountAttempt, true);
});

Deno.test("a flush of finishes carries the claim that refills their slots", async () => {
  // What the producer lends: a claim of `limit` jobs and what became of it.
  const rides: { limit: number; outcome: string[] | "failed" | null }[] = [];
  const endsBeforeClaimed: string[][] = [];
  let down = false;
  const { completer, calls, events, written } = setup(
    (batch) => {
      if (down) throw new Error("database is locked");
      return batch.finishes.map((f) => f.id);
    },
    () => {
      const ride = { limit: 2, outcome: null as string[] | "failed" | null };
      rides.push(ride);
      return Promise.resolve({
        params: { workerId: "w1", queues: null, limit: 2, now: Date.now(), leaseMs: 30_000 },
        claimed: (jobs) => {
          ride.outcome = jobs.map((j) => j.id);
          endsBeforeClaimed.push(ends(events).map((e) => e.id));
        },
        failed: () => (ride.outcome = "failed"),
      });
    },
  );
  completer.started("only-start", 1, 101, null);
  await waitFor(() => calls.length === 1, { message: "the start to be written" });
  assert.equal(calls[0]!.claim, undefined, "a flush without finishes frees no slot: no claim");
  assert.equal(rides.length, 0);

  completer.finished(end("a", { kind: "succeeded" }));
  await waitFor(() => rides[0]?.outcome !== null && rides.length === 1, {
    message: "the claim to be handed over",
  });
  assert.equal(calls[1]!.claim?.limit, 2, "the claim went with the finish");
  assert.deepEqual(rides[0]!.outcome, ["next-2-0", "next-2-1"]);
  assert.deepEqual(endsBeforeClaimed[0], ["a"], "a job's end is told before its slot's next job");
  assert.deepEqual(written, [1]);

  down = true;
  completer.finished(end("b", { kind: "succeeded" }));
  await waitFor(() => rides.length >= 2 && rides[1]!.outcome === "failed", {
    message: "a failed write to give the claim's slots back",
  });
  down = false;
  await waitFor(() => ends(events).length === 2, { message: "b's write to be tried again" });
  assert.ok(Array.isArray(rides.at(-1)!.outcome), "the write that succeeded claimed again");
  assert.ok(rides.slice(1, -1).every((r) => r.outcome === "failed"), JSON.stringify(rides));
  await completer.close();
  assert.deepEqual(ends(events).map((e) => [e.id, e.applied]), [["a", true], ["b", true]]);
});

Deno.test("a freed slot is left to the next write's claim only while no write is out", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { completer, calls, slotCount } = setup(async (batch, call) => {
    if (call === 1) await gate;
    return batch.finishes.map((f) => f.id);
  });
  // Two slots run a and b (the slot pool tells the count), then a ends.
  slotCount.taken();
  slotCount.taken();
  slotCount.freed();
  completer.finished(end("a", { kind: "succeeded" }));
  assert.equal(slotCount.freedSlotsRide, true);
  assert.equal(slotCount.claimable, 0, "the next write takes a at once and claims for its slot");
  await waitFor(() => calls.length === 1, { message: "a's write to go out" });
  assert.equal(slotCount.claimable, 1, "a's write went without a claim: its slot is free");
  slotCount.taken(); // a round refilled it
  slotCount.freed();
  completer.finished(end("b", { kind: "succeeded" }));
  // A write is out: b waits for it, so a claim round may refill b's slot meanwhile.
  assert.equal(slotCount.freedSlotsRide, false);
  assert.equal(slotCount.claimable, 1);
  release();
  await waitFor(() => calls.length === 2, { message: "b's write" });
  await completer.close();
  assert.equal(slotCount.freedSlotsRide, true);
  assert.equal(slotCount.claimable, 1);
});
