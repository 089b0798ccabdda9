/**
 * `deno task demo`: the main flow on a fresh database. Enqueues a handful
 * of jobs, runs two workers until the queue drains, prints the status and
 * the DLQ. Every step is the real CLI, printed as you would type it.
 *
 * Usage: deno task demo [--db PATH]
 */
const MAIN = new URL("../main.ts", import.meta.url).pathname;

const dbFlag = Deno.args.indexOf("--db");
const ownDir = dbFlag === -1 ? await Deno.makeTempDir({ prefix: "queuectl-demo-" }) : null;
const db = dbFlag === -1 ? `${ownDir}/queue.db` : Deno.args[dbFlag + 1]!;

function command(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "--db", db, ...args],
    stdout: "inherit",
    stderr: "inherit",
  });
}

async function queuectl(...args: string[]): Promise<void> {
  console.log(`\n$ queuectl ${args.map((a) => (/^[\w.:=/-]+$/.test(a) ? a : `'${a}'`)).join(" ")}`);
  const status = await command(args).spawn().status;
  if (!status.success) throw new Error(`queuectl ${args[0]} failed with exit ${status.code}`);
}

async function counts(): Promise<Record<string, number>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "--db", db, "status", "--json"],
    stdout: "piped",
  }).output();
  return JSON.parse(new TextDecoder().decode(output.stdout)).counts;
}

try {
  console.log(`queuectl demo on ${db}`);
  await queuectl("config", "set", "backoff_base", "1.5");
  await queuectl("enqueue", '{"id":"hello","command":"echo Hello QueueCTL"}');
  await queuectl("enqueue", '{"id":"report","command":"sleep 1 && date","priority":5}');
  await queuectl("enqueue", '{"id":"cleanup","command":"ls / | wc -l","priority":-1}');
  await queuectl("enqueue", '{"id":"fail1","command":"bash -c \\"exit 1\\"","max_retries":2}');
  await queuectl("enqueue", '{"id":"slow","command":"sleep 30","timeout":1,"max_retries":0}');
  await queuectl("enqueue", "--id", "later", "--delay", "2s", "--", "echo", "ran after a delay");
  await queuectl("list");

  console.log(
    "\n$ queuectl worker start --count 2   # runs until the queue drains, then we stop it",
  );
  const worker = command(["worker", "start", "--count", "2"]).spawn();
  const deadline = Date.now() + 25_000;
  try {
    for (;;) {
      const c = await counts();
      if (c.pending === 0 && c.processing === 0 && c.failed === 0) break;
      if (Date.now() > deadline) {
        throw new Error(`the queue did not drain within 25 s: ${JSON.stringify(c)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    worker.kill("SIGTERM");
    await worker.status;
  }

  await queuectl("status");
  await queuectl("dlq", "list");
  await queuectl("show", "fail1");
  await queuectl("logs", "hello");
} finally {
  if (ownDir) await Deno.remove(ownDir, { recursive: true }).catch(() => {});
}
