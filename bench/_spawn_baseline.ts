/**
 * The drain baseline: one Deno process spawning `sh -c true` N times with
 * concurrency C, capturing stdout and stderr as a worker does. Prints
 * `{ "jobs", "ms", "rate", "failed" }` as JSON.
 *
 * Modes: `plain` (the physical limit the drain is set against), `setsid` (each job
 * in its own process group through `setsid(1)`, one more exec, as
 * `workers/run_command.ts` does where FFI is not allowed), `detached` (`detached: true` with
 * `spawn()`, which forks the process; note that `output()` without
 * `spawn()` ignores `detached` in Deno 2.9, so it is not used here).
 *
 * Usage: deno run -A bench/_spawn_baseline.ts <n> <concurrency> [plain|setsid|detached]
 */
const n = Number(Deno.args[0] ?? 1000);
const concurrency = Number(Deno.args[1] ?? 4);
const mode = Deno.args[2] ?? "plain";
const argv = mode === "setsid" ? ["setsid", "/bin/sh", "-c", "true"] : ["/bin/sh", "-c", "true"];
let next = 0;
let failed = 0;

async function lane(): Promise<void> {
  while (next < n) {
    next++;
    const child = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: mode === "detached",
    }).spawn();
    const output = await child.output();
    if (output.code !== 0) failed++;
  }
}

const start = performance.now();
await Promise.all(Array.from({ length: concurrency }, lane));
const ms = performance.now() - start;
console.log(JSON.stringify({ jobs: n, ms, rate: n / (ms / 1000), failed }));
