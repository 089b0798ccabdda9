/**
 * Scenario 10: flow control (README "Flow control"; DESIGN.md "Flow
 * control"). The drain of scenario 2 and the pickup of scenario 3 on queue
 * `default` with
 * - a rate limit that never binds (`--rate 1000000/1s`): every claim then
 *   takes the queue's lock, prunes and counts its window, records its starts;
 * - group concurrency 1 and jobs spread over 1,000 groups (job i in group
 *   `g-<i mod 1000>`); for the pickup, 1,000 groups also hold a job due in an
 *   hour, so 1,000 groups hold waiting jobs at every claim;
 * each against the plain figures of the same run (target: drain at least
 * 0.9x, pickup p99 at most 1.1x). And the head-of-line row: with
 * `--group-concurrency 1`, one group at its limit holding 1,000 waiting jobs
 * beside the pickups of other groups, against the same queue whose full
 * group holds nothing behind it (target: p50 and p99 at most 1.2x). Runs go
 * in mirrored order (A B C C B A) so drift weighs on every side alike; once
 * each with `--quick`.
 */
import type { BenchContext } from "./_context.ts";
import { type Drained, drainMetric, drainOnce } from "./drain.ts";
import { type Picked, pickupOnce } from "./pickup.ts";
import { mean, percentile, runOk, tempDir } from "./_process.ts";
import { type Row, row } from "./_result.ts";
import type { BenchDb } from "./_store.ts";

const SCENARIO = "10 flow control";
const GROUPS = 1000;
/** A rate no drain here comes near. */
const LOOSE_RATE = "1000000/1s";
/** The waiting jobs of the one full group of the head-of-line row. */
const BACKLOG = 1000;
/** When the full group's running job's lease would end: never, within a run. */
const FAR = 4_102_444_800_000;

/** How one run's queue is set up. */
type Variant = "plain" | "rate" | "groups" | "full group" | "full group, backlog";

async function queueSet(ctx: BenchContext, db: BenchDb, args: string[]): Promise<void> {
  await runOk(ctx.cli.argv(["queue", "set", "default", ...args]), { db: db.location });
}

async function enqueueFile(ctx: BenchContext, db: BenchDb, jobs: object[]): Promise<void> {
  await using dir = await tempDir();
  const file = `${dir.path}/jobs.ndjson`;
  await Deno.writeTextFile(file, jobs.map((j) => JSON.stringify(j)).join("\n") + "\n");
  await runOk(ctx.cli.argv(["enqueue", "--file", file]), { db: db.location });
}

/**
 * A group `hog` at its limit of 1: one job made `processing` by a worker
 * that does not exist (its lease far ahead, so no rescuer touches it; it
 * takes no slot), and `backlog` jobs waiting behind it.
 */
async function fullGroup(ctx: BenchContext, db: BenchDb, backlog: number): Promise<void> {
  await enqueueFile(
    ctx,
    db,
    Array.from(
      { length: backlog + 1 },
      (_, i) => ({ id: `hog-${i}`, command: "true", group: "hog" }),
    ),
  );
  await db.all(
    `UPDATE jobs SET state = 'processing', attempts = 1, worker_id = 'bench-hog',
       lease_expires_at = ${FAR} WHERE id = 'hog-0'`,
  );
}

/** Sets queue `default` up as `variant` says (after the schema, before the workers). */
async function prepare(ctx: BenchContext, db: BenchDb, variant: Variant, pickup: boolean) {
  switch (variant) {
    case "plain":
      return;
    case "rate":
      return await queueSet(ctx, db, ["--rate", LOOSE_RATE]);
    case "groups":
      await queueSet(ctx, db, ["--group-concurrency", "1"]);
      if (pickup) {
        await enqueueFile(
          ctx,
          db,
          Array.from({ length: GROUPS }, (_, i) => ({
            id: `later-${i}`,
            command: "true",
            group: `g-${i}`,
            delay: "1h",
          })),
        );
      }
      return;
    case "full group":
      await queueSet(ctx, db, ["--group-concurrency", "1"]);
      return await fullGroup(ctx, db, 0);
    case "full group, backlog":
      await queueSet(ctx, db, ["--group-concurrency", "1"]);
      return await fullGroup(ctx, db, BACKLOG);
  }
}

function drain(ctx: BenchContext, n: number, variant: Variant): Promise<Drained> {
  ctx.log(`${SCENARIO}: drain of ${n} jobs, ${variant}`);
  return drainOnce(ctx, n, `flow-drain-${variant.replace(/\W+/g, "-")}`, {
    prepare: (db) => prepare(ctx, db, variant, false),
    ...(variant === "groups" ? { fields: (i: number) => ({ group: `g-${i % GROUPS}` }) } : {}),
  });
}

function pickup(ctx: BenchContext, n: number, variant: Variant): Promise<Picked> {
  ctx.log(`${SCENARIO}: pickup of ${n} jobs, ${variant}`);
  return pickupOnce(ctx, n, `flow-pickup-${variant.replace(/\W+/g, "-")}`, {
    settleMs: 500,
    direct: false,
    prepare: (db) => prepare(ctx, db, variant, true),
    ...(variant === "plain" || variant === "rate" ? {} : { groups: GROUPS }),
  });
}

/** Runs `measure` for each variant in the order given, then (full run) in reverse. */
async function mirrored<T>(
  ctx: BenchContext,
  variants: Variant[],
  measure: (variant: Variant) => Promise<T>,
): Promise<Map<Variant, T[]>> {
  const order = ctx.quick ? variants : [...variants, ...[...variants].reverse()];
  const results = new Map<Variant, T[]>();
  for (const variant of order) {
    results.set(variant, [...(results.get(variant) ?? []), await measure(variant)]);
  }
  return results;
}

const stopNotes = (runs: { stopNote: string }[]) => runs.map((r) => r.stopNote).filter(Boolean);

/** Measures scenario 10. */
export async function benchFlow(ctx: BenchContext): Promise<Row[]> {
  const n = ctx.quick ? 500 : 5000;
  const samples = ctx.quick ? 30 : 60;
  const drains = await mirrored(ctx, ["plain", "rate", "groups"], (v) => drain(ctx, n, v));
  const pickups = await mirrored(
    ctx,
    ["plain", "rate", "groups", "full group", "full group, backlog"],
    (v) => pickup(ctx, samples, v),
  );
  const rates = (v: Variant) => drains.get(v)!.map((d) => d.rate);
  const latencies = (v: Variant) => pickups.get(v)!.flatMap((p) => p.latencies);
  const what: Record<Variant, string> = {
    plain: "plain",
    rate: `rate ${LOOSE_RATE} (never binds)`,
    groups: `--group-concurrency 1, ${GROUPS.toLocaleString("en-US")} groups`,
    "full group": "",
    "full group, backlog": "",
  };
  const rows: Row[] = [];
  for (const v of ["rate", "groups"] as const) {
    rows.push(row({
      scenario: SCENARIO,
      metric: `${drainMetric(n)}, ${what[v]}`,
      figure: mean(rates(v)),
      unit: "jobs/s",
      baseline: mean(rates("plain")),
      baselineLabel: "plain drain, same run",
      target: { kind: "ratio_min", value: 0.9 },
      note: [
        `runs: ${rates(v).map((r) => r.toFixed(0)).join(", ")} jobs/s; plain ${
          rates("plain").map((r) => r.toFixed(0)).join(", ")
        }` + (v === "groups" ? `; job i in group g-<i mod ${GROUPS}>` : ""),
        ...stopNotes(drains.get(v)!),
      ].join("; "),
    }));
  }
  for (const v of ["rate", "groups"] as const) {
    for (const q of [50, 99]) {
      rows.push(row({
        scenario: SCENARIO,
        metric: `pickup p${q}, ${what[v]}`,
        figure: percentile(latencies(v), q),
        unit: "ms",
        baseline: percentile(latencies("plain"), q),
        baselineLabel: "plain pickup, same run",
        target: q === 99 ? { kind: "ratio_max", value: 1.1 } : null,
        note: q === 50
          ? `${samples} jobs per run at 20-120 ms gaps, commit to the job's process` +
            (v === "groups"
              ? `; job i in group g-<i mod ${GROUPS}>, and each group holds a job due in an ` +
                `hour, so ${GROUPS} groups hold waiting jobs at every claim`
              : "")
          : stopNotes(pickups.get(v)!).join("; "),
      }));
    }
  }
  for (const q of [50, 99]) {
    rows.push(row({
      scenario: SCENARIO,
      metric: `pickup p${q}, --group-concurrency 1, one full group holding ${
        BACKLOG.toLocaleString("en-US")
      } waiting jobs`,
      figure: percentile(latencies("full group, backlog"), q),
      unit: "ms",
      baseline: percentile(latencies("full group"), q),
      baselineLabel: "full group, nothing waiting",
      target: { kind: "ratio_max", value: 1.2 },
      note: q === 50
        ? `group hog at its limit (one job processing, ${BACKLOG} waiting behind it) beside ` +
          `the pickups' own groups (g-<i mod ${GROUPS}>); the baseline's hog has nothing ` +
          `waiting; plain pickup p50 ${percentile(latencies("plain"), 50).toFixed(1)} ms`
        : [
          ...stopNotes(pickups.get("full group")!),
          ...stopNotes(pickups.get("full group, backlog")!),
        ].join("; "),
    }));
  }
  return rows;
}
