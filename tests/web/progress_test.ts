/**
 * A running job's one bar on the dashboard (README "Progress"): the
 * progress the job reports when it has reported any, else the time used of
 * its timeout, in the lists and on the job's page.
 */
import assert from "node:assert/strict";
import { storeTest } from "../_helpers.ts";
import { addJobs, appFixture } from "./_fixtures.ts";

/** The `<progress>` elements of `html`. */
function bars(html: string): string[] {
  return html.match(/<progress[^>]*>/g) ?? [];
}

storeTest(
  "a running job shows one bar: its progress when it reports it, else its time",
  async (tmp) => {
    await using f = await appFixture({}, tmp);
    await addJobs(f.store, { id: "told" }, { id: "quiet" });
    const now = Date.now();
    const claimed = await f.store.jobClaim({
      workerId: "w-test",
      queues: null,
      limit: 2,
      now,
      leaseMs: 30_000,
    });
    assert.equal(claimed.length, 2);
    const told = claimed.find((j) => j.id === "told")!;
    assert.equal(
      await f.store.jobProgressSet({
        id: "told",
        attempt: told.attempt,
        progress: 40,
        message: "step 2 of 5",
        now,
        coalesceMs: 0,
      }),
      "written",
    );

    const toldPage = await (await f.request("/jobs/told")).text();
    assert.deepEqual(bars(toldPage).length, 1, "one bar");
    assert.match(bars(toldPage)[0]!, /class="job-progress"/);
    assert.match(bars(toldPage)[0]!, /value="40"/);
    assert.match(bars(toldPage)[0]!, /aria-label="progress reported by the job"/);
    assert.doesNotMatch(bars(toldPage)[0]!, /data-start/, "the script leaves it alone");
    assert.match(toldPage, /running <time[^>]*>[^<]*<\/time> of 1 min/);
    assert.match(toldPage, /40% done: step 2 of 5/);

    const quietPage = await (await f.request("/jobs/quiet")).text();
    assert.deepEqual(bars(quietPage).length, 1, "one bar");
    assert.match(bars(quietPage)[0]!, /data-start=/);
    assert.match(bars(quietPage)[0]!, /aria-label="time used of the timeout"/);

    // The list: one bar a running job, each of its kind.
    const list = await (await f.request("/jobs?state=processing")).text();
    const listed = bars(list);
    assert.equal(listed.length, 2, listed.join("\n"));
    assert.equal(listed.filter((b) => b.includes("job-progress")).length, 1);
    assert.equal(listed.filter((b) => b.includes("data-start")).length, 1);
  },
);
