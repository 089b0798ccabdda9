/**
 * Where the CLI's start-up goes: `deno run -A bench/startup_profile.ts`.
 *
 * Each probe is a tiny module run in a fresh `deno run` (with the project's
 * deno.json and lockfile): an empty one, one that imports a single
 * dependency, the CLI itself. Probes run round-robin, so a noisy neighbour
 * hits them all alike; the table shows the minimum and the median wall time,
 * the minimum minus the empty probe's, and the import time the probe
 * measured inside its own process (`performance.now()` around a dynamic
 * `import()`).
 *
 * Flags: `--runs N` (default 15), `--root DIR` (another checkout to profile
 * beside this one, e.g. a copy with a proposed change; repeatable),
 * `--only NAME[,NAME...]`.
 */
import { median, ROOT, run, tempDir, waitQuiet } from "./_process.ts";

/** One probe: a module's source, and the flags `deno run` gets. */
interface Probe {
  name: string;
  /** Module source; `@ROOT@` stands for the checkout's file URL. */
  source: string;
  /** Extra `deno run` flags. */
  flags?: string[];
  /** Run outside the project, without its deno.json. */
  noConfig?: boolean;
  /** Arguments for the CLI probes. */
  args?: string[];
}

/** A probe that times a dynamic import of `specifier` and prints the milliseconds. */
function importProbe(name: string, specifier: string, flags: string[] = []): Probe {
  return {
    name,
    flags,
    source: `const t = performance.now();\nawait import(${JSON.stringify(specifier)});\n` +
      `console.log(performance.now() - t);\n`,
  };
}

/** A probe that imports the CLI's main.ts and runs it with `args`. */
function cliProbe(name: string, args: string[], flags: string[] = []): Probe {
  return {
    name,
    flags,
    args,
    source: `const t = performance.now();\nconst { run } = await import("@ROOT@/main.ts");\n` +
      `const code = await run(Deno.args);\nconsole.error(performance.now() - t);\n` +
      `Deno.exit(code);\n`,
  };
}

const PROBES: Probe[] = [
  { name: "empty, no deno.json", source: "", noConfig: true },
  { name: "empty, project deno.json", source: "" },
  { name: "empty, --cached-only", source: "", flags: ["--cached-only"] },
  importProbe("node:path", "node:path"),
  importProbe("node:fs + node:path", "data:text/javascript,import 'node:fs'; import 'node:path';"),
  importProbe("node:sqlite", "node:sqlite"),
  importProbe("@stricli/core", "@stricli/core"),
  importProbe("zod", "zod"),
  importProbe("zod/mini", "zod/mini"),
  importProbe("zod/v4/core", "zod/v4/core"),
  importProbe("lib/storage/open_storage.ts", "@ROOT@/lib/storage/open_storage.ts"),
  importProbe("lib/job_input.ts", "@ROOT@/lib/job_input.ts"),
  importProbe("cli/enqueue.ts", "@ROOT@/cli/enqueue.ts"),
  importProbe("main.ts (tree only)", "@ROOT@/main.ts"),
  cliProbe("queuectl --version", ["--version"]),
  cliProbe("queuectl enqueue", ["enqueue", '{"command":"true"}']),
  cliProbe("queuectl enqueue, --cached-only", ["enqueue", '{"command":"true"}'], [
    "--cached-only",
  ]),
  cliProbe("queuectl enqueue, --no-code-cache", ["enqueue", '{"command":"true"}'], [
    "--no-code-cache",
  ]),
  cliProbe("queuectl status", ["status"]),
];

interface Sample {
  wall: number[];
  inner: number[];
}

function parse(args: string[]) {
  const options = { runs: 15, roots: [ROOT], only: null as string[] | null };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--runs") options.runs = Number(value());
    else if (arg === "--root") options.roots.push(value().replace(/\/$/, ""));
    else if (arg === "--only") options.only = value().split(",");
    else throw new Error(`unknown flag "${arg}"`);
  }
  if (!Number.isInteger(options.runs) || options.runs < 1 || options.runs > 200) {
    throw new Error("--runs must be an integer from 1 to 200");
  }
  return options;
}

/** Runs the profile; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const options = parse(argv);
  const probes = PROBES.filter((p) => !options.only || options.only.includes(p.name));
  await using dir = await tempDir();
  const db = `${dir.path}/queue.db`;
  const jobs: { label: string; argv: string[]; cwd: string }[] = [];
  for (const [r, root] of options.roots.entries()) {
    for (const [p, probe] of probes.entries()) {
      const file = `${dir.path}/probe_${r}_${p}.ts`;
      await Deno.writeTextFile(file, probe.source.replaceAll("@ROOT@", `file://${root}`));
      const config = probe.noConfig ? ["--no-config"] : ["--config", `${root}/deno.json`];
      jobs.push({
        label: options.roots.length > 1 ? `${probe.name} [${r === 0 ? "this" : root}]` : probe.name,
        argv: [
          Deno.execPath(),
          "run",
          "-A",
          ...config,
          ...(probe.flags ?? []),
          file,
          ...(
            probe.args ?? []
          ),
        ],
        cwd: probe.noConfig ? dir.path : root,
      });
    }
  }
  const samples = new Map<string, Sample>(jobs.map((j) => [j.label, { wall: [], inner: [] }]));
  // One untimed round fills caches (and creates the database).
  for (const job of jobs) await run(job.argv, { cwd: job.cwd, db });
  const busy = await waitQuiet(30_000);
  for (let i = 0; i < options.runs; i++) {
    for (const job of jobs) {
      const result = await run(job.argv, { cwd: job.cwd, db });
      if (result.code !== 0) {
        console.error(`${job.label} exited ${result.code}: ${result.stderr.trim()}`);
        return 1;
      }
      const sample = samples.get(job.label)!;
      sample.wall.push(result.ms);
      const inner = Number((result.stdout.trim().split("\n").pop() ?? "").trim()) ||
        Number(result.stderr.trim().split("\n").pop());
      if (Number.isFinite(inner) && inner > 0) sample.inner.push(inner);
    }
  }
  const base = Math.min(...samples.get(jobs[0]!.label)!.wall);
  const header = ["probe", "min ms", "median ms", "min - empty", "in-process ms"];
  const rows = jobs.map((job) => {
    const s = samples.get(job.label)!;
    const min = Math.min(...s.wall);
    return [
      job.label,
      min.toFixed(1),
      median(s.wall).toFixed(1),
      (min - base).toFixed(1),
      s.inner.length ? median(s.inner).toFixed(1) : "",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  ");
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(
    `\n${options.runs} runs each, round-robin; machine ${Math.round(busy * 100)}% busy before; ` +
      `"in-process" is the probe's own import (or CLI run) time`,
  );
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
