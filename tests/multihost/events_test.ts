/** The multi-host tests' checkers can fail: synthetic event files with and without overlaps. */
import assert from "node:assert/strict";
import { attemptKey, findOverlaps, loggedJob, parseEvents, toAttempts } from "./_events.ts";

const lines = (...rows: string[]) => rows.join("\n") + "\n";

Deno.test("findOverlaps() passes attempts of a job that ran one after another", () => {
  const events = parseEvents(lines(
    "a host1 1 start 1000 11",
    "b host2 1 start 1000 12",
    "b host2 1 end 2000 12",
    "a host2 2 start 6000 13",
    "a host2 2 end 6500 13",
  ));
  // Attempt 1 of "a" wrote no end line: it was killed, and seen gone at 5000.
  const gone = new Map([[attemptKey({ id: "a", attempt: 1, host: "host1", pid: 11 }), 5000]]);
  assert.deepEqual(findOverlaps(toAttempts(events, gone)), []);
});

Deno.test("findOverlaps() flags a retry that started while the killed attempt still ran", () => {
  const events = parseEvents(lines(
    "a host1 1 start 1000 11",
    "a host2 2 start 4000 13",
    "a host2 2 end 4500 13",
  ));
  const gone = new Map([[attemptKey({ id: "a", attempt: 1, host: "host1", pid: 11 }), 4200]]);
  const found = findOverlaps(toAttempts(events, gone));
  assert.equal(found.length, 1, found.join("\n"));
  assert.match(found[0]!, /job a: attempt 1 on host1 .* overlaps attempt 2 on host2/);
});

Deno.test("findOverlaps() flags an attempt never seen to end beside a later one", () => {
  const events = parseEvents(lines(
    "a host1 1 start 1000 11",
    "a host2 2 start 90000 13",
    "a host2 2 end 90500 13",
  ));
  const found = findOverlaps(toAttempts(events, new Map()));
  assert.equal(found.length, 1);
  assert.match(found[0]!, /still running/);
});

Deno.test("findOverlaps() flags one attempt number started on two hosts", () => {
  const events = parseEvents(lines(
    "a host1 1 start 1000 11",
    "a host1 1 end 1500 11",
    "a host2 1 start 2000 12",
    "a host2 1 end 2500 12",
  ));
  const found = findOverlaps(toAttempts(events, new Map()));
  assert.equal(found.length, 1);
  assert.match(found[0]!, /attempt 1 started twice/);
});

Deno.test("parseEvents() refuses a torn line", () => {
  assert.throws(() => parseEvents("a host1 1 start 10"), /Malformed event line/);
});

Deno.test("loggedJob() writes start and end lines that parseEvents() reads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-events-" });
  try {
    const file = `${dir}/events.log`;
    const out = await new Deno.Command("/bin/sh", {
      args: ["-c", loggedJob(file, "true")],
      env: { QUEUECTL_JOB_ID: "j1", QCTL_TEST_HOST: "host9", QUEUECTL_ATTEMPT: "2" },
    }).output();
    assert.ok(out.success);
    const events = parseEvents(await Deno.readTextFile(file));
    assert.deepEqual(events.map((e) => [e.id, e.host, e.attempt, e.kind]), [
      ["j1", "host9", 2, "start"],
      ["j1", "host9", 2, "end"],
    ]);
    assert.ok(Math.abs(events[0]!.ms - Date.now()) < 60_000, "date +%s%3N gives epoch ms");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
