/**
 * The watchdog (DESIGN.md, "Watchdog"): a small bash process per worker
 * process, in a session of its own, that ends the supervisor's jobs when
 * the supervisor cannot: when it dies (SIGKILL, OOM kill, crash: the
 * kernel closes the pipe, the watchdog reads end of file) or freezes
 * (SIGSTOP, a blocked event loop: no renewal arrives before the deadline).
 * The supervisor tells it, over that pipe, each job's cookie as it is
 * handed to a slot, its process group and leader's start time once known,
 * its end, and new deadlines after every renewal of the leases.
 *
 * The script is `watchdog.sh` beside this module, read through
 * `import.meta.url` (in a compiled binary: from the files `deno task compile`
 * includes) and given to `bash -c`.
 */
import { fencePlan } from "./heartbeat.ts";

/** After end of file, SIGTERM at once and SIGKILL this much later (or at the kill deadline if sooner). */
export const WATCHDOG_EOF_GRACE_MS = 1000;

/** The name the watchdog runs under (`$0`): `ps` shows it, tests look for it. */
export const WATCHDOG_NAME = "queuectl-watchdog";

/**
 * When the watchdog ends a job whose lease was last renewed by a call
 * begun at time 0: a quarter of the fencing margin after the supervisor's
 * own fence would have (so a live supervisor acts first), SIGTERM, then
 * SIGKILL a grace later, still 3/4 of the margin before the lease ends.
 */
export function watchdogPlan(leaseMs: number): { termAfterMs: number; killAfterMs: number } {
  const { fenceAfterMs, graceMs } = fencePlan(leaseMs);
  const lateMs = (leaseMs - fenceAfterMs - graceMs) / 4;
  return { termAfterMs: fenceAfterMs + lateMs, killAfterMs: fenceAfterMs + graceMs + lateMs };
}

const BASH = ["/bin/bash", "/usr/bin/bash"].find(isFile) ?? null;
const SETSID = ["/usr/bin/setsid", "/bin/setsid"].find(isFile) ?? null;

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

let script: string | undefined;

function watchdogScript(): string {
  script ??= Deno.readTextFileSync(new URL("./watchdog.sh", import.meta.url));
  return script;
}

/** What the watchdog knows of one running job; times on `performance.now()`. */
interface Known {
  termAt: number;
  killAt: number;
  pgid: number | null;
  procStart: string | null;
}

/** How a watchdog is set up. */
export interface WatchdogOptions {
  /** Told once when there is no bash (then nothing is fenced) or when the watchdog had to be restarted. */
  onError(message: string): void;
}

/** The supervisor's side of the watchdog: see the module comment. */
export class Watchdog {
  #options: WatchdogOptions;
  #child: Deno.ChildProcess | null = null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #jobs = new Map<string, Known>();
  /** Lines not written yet, with the job they are about (null: every job). */
  #queue: { cookie: string | null; line: string }[] = [];
  #flushing = false;
  #closed = false;
  #encoder = new TextEncoder();

  constructor(options: WatchdogOptions) {
    this.#options = options;
    if (BASH === null) {
      options.onError(
        "no bash found: the jobs of this worker are not ended at once if it dies or freezes " +
          "(install bash)",
      );
      return;
    }
    this.#spawn();
  }

  /** The watchdog's pid (null without bash). */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  #spawn(): void {
    const args = ["-c", watchdogScript(), WATCHDOG_NAME, String(WATCHDOG_EOF_GRACE_MS)];
    args.push(String(Deno.pid));
    // A session of its own: a SIGSTOP, Ctrl-Z or SIGKILL sent to the
    // supervisor's process group never reaches it.
    const child = new Deno.Command(SETSID ?? BASH!, {
      args: SETSID ? [BASH!, ...args] : args,
      stdin: "piped",
      stdout: "null",
      stderr: "inherit",
      detached: SETSID === null,
    }).spawn();
    child.unref();
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#writer.closed.catch(() => {});
    void child.status.then(() => {
      if (this.#closed || this.#child !== child) return;
      this.#options.onError("the watchdog exited: starting another");
      this.#child = null;
      this.#writer = null;
      this.#queue = [];
      this.#spawn();
      const now = performance.now();
      for (const [cookie, job] of this.#jobs) {
        this.#send(cookie, `A ${cookie} ${ms(job.termAt - now)} ${ms(job.killAt - now)}`);
        if (job.pgid !== null && job.procStart !== null) {
          this.#send(cookie, `P ${cookie} ${job.pgid} ${job.procStart}`);
        }
      }
    });
  }

  /** A job with this cookie was handed to a slot; its lease was taken by a claim begun at `claimStart`. */
  add(cookie: string, claimStart: number, leaseMs: number): void {
    const plan = watchdogPlan(leaseMs);
    const job = {
      termAt: claimStart + plan.termAfterMs,
      killAt: claimStart + plan.killAfterMs,
      pgid: null,
      procStart: null,
    };
    this.#jobs.set(cookie, job);
    const now = performance.now();
    this.#send(cookie, `A ${cookie} ${ms(job.termAt - now)} ${ms(job.killAt - now)}`);
  }

  /** The job's shell started: its process group and the leader's start time. */
  started(cookie: string, pgid: number, procStart: string | null): void {
    const job = this.#jobs.get(cookie);
    if (!job || procStart === null) return; // without a start time the cookie still finds it
    job.pgid = pgid;
    job.procStart = procStart;
    this.#send(cookie, `P ${cookie} ${pgid} ${procStart}`);
  }

  /** The job ended: the watchdog forgets it (lines about it not written yet are dropped). */
  ended(cookie: string): void {
    if (!this.#jobs.delete(cookie)) return;
    const pending = this.#queue.findIndex((q) => q.cookie === cookie && q.line.startsWith("A "));
    if (pending >= 0) {
      // Never told of it: tell nothing.
      this.#queue = this.#queue.filter((q) => q.cookie !== cookie);
      return;
    }
    this.#send(cookie, `E ${cookie}`);
  }

  /** Every running job's lease was renewed by a call begun at `startedAt` (monotonic). */
  renewed(startedAt: number, leaseMs: number): void {
    if (this.#jobs.size === 0) return;
    const plan = watchdogPlan(leaseMs);
    const termAt = startedAt + plan.termAfterMs;
    const killAt = startedAt + plan.killAfterMs;
    for (const job of this.#jobs.values()) {
      job.termAt = Math.max(job.termAt, termAt);
      job.killAt = Math.max(job.killAt, killAt);
    }
    const now = performance.now();
    this.#send(null, `R ${ms(termAt - now)} ${ms(killAt - now)}`);
  }

  /**
   * The supervisor is done: closes the pipe, so the watchdog exits (ending
   * any job it still knows of, which after a normal stop is none).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const child = this.#child;
    await this.#flush();
    try {
      await this.#writer?.close();
    } catch { /* already gone */ }
    // Unref'd so it never holds the process open; waited for here, so it is ref'd again.
    child?.ref();
    await child?.status;
  }

  #send(cookie: string | null, line: string): void {
    if (this.#writer === null || this.#closed) return;
    this.#queue.push({ cookie, line });
    // Lines of one turn go out in one write.
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => void this.#flush());
    }
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0 && this.#writer !== null) {
        const text = this.#queue.map((q) => q.line + "\n").join("");
        this.#queue = [];
        await this.#writer.write(this.#encoder.encode(text));
      }
    } catch {
      // The watchdog died: its status handler starts another.
    } finally {
      this.#flushing = false;
    }
  }
}

function ms(value: number): number {
  return Math.round(value);
}
