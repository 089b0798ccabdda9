/**
 * Scenario 6: resident memory (VmRSS) of an idle `worker start --count 4`,
 * `--count 16` and `--count 64`, against an idle Deno process that loaded
 * nothing. The memory targets are absolute: under 100 MB at 4, under
 * 200 MB at 64.
 */
import type { BenchContext } from "./_context.ts";
import { createSchema } from "./_db.ts";
import { ROOT, rssMb, sleep, spawn, tempDir } from "./_process.ts";
import { type Row, row } from "./_result.ts";
import { startWorkers, stopWorkers } from "./_workers.ts";

const SCENARIO = "6 worker RSS";

/** VmRSS (MB) of an idle `worker start --count <count>` after it settled. */
async function idleRss(
  ctx: BenchContext,
  db: string,
  count: number,
): Promise<{ mb: number; note: string }> {
  const worker = await startWorkers(ctx, db, count, ctx.quick ? 1000 : 2000);
  let mb = NaN;
  let note = "";
  try {
    mb = rssMb(worker.pid);
  } finally {
    note = await stopWorkers(worker);
  }
  return { mb, note };
}

/** Measures scenario 6. */
export async function benchWorkerRss(ctx: BenchContext): Promise<Row[]> {
  await using dir = await tempDir();
  const db = `${dir.path}/queue.db`;
  await createSchema(db);
  let baseline: number;
  {
    await using idle = spawn([Deno.execPath(), "run", "-A", `${ROOT}/bench/_idle.ts`]);
    await sleep(ctx.quick ? 500 : 1000);
    baseline = rssMb(idle.pid);
  }
  ctx.log(`${SCENARIO}: worker start --count 4`);
  const four = await idleRss(ctx, db, 4);
  ctx.log(`${SCENARIO}: worker start --count 16`);
  const sixteen = await idleRss(ctx, db, 16);
  ctx.log(`${SCENARIO}: worker start --count 64`);
  const sixtyFour = await idleRss(ctx, db, 64);
  const common = { scenario: SCENARIO, unit: "MB", baseline, baselineLabel: "idle deno" };
  return [
    row({
      ...common,
      metric: "idle, --count 4",
      figure: four.mb,
      target: { kind: "max", value: 100 },
      note: ["VmRSS of /proc/<pid>/status after the workers settled", four.note]
        .filter(Boolean).join("; "),
    }),
    row({ ...common, metric: "idle, --count 16", figure: sixteen.mb, note: sixteen.note }),
    row({
      ...common,
      metric: "idle, --count 64",
      figure: sixtyFour.mb,
      target: { kind: "max", value: 200 },
      note: sixtyFour.note,
    }),
  ];
}
