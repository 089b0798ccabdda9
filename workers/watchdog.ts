/**
 * The watchdog (DESIGN.md, "Watchdog"): a small bash process per worker
 * process, in a session of its own, that ends the supervisor's jobs when
 * the supervisor cannot: when it dies (SIGKILL, OOM kill, crash: the
 * kernel closes the pipe, the watchdog reads end of file) or freezes
 * (SIGSTOP, a blocked event loop: no renewal arrives before the deadline).
 * The supervisor tells it, over that pipe, a deadline after every renewal
 * of the leases, and the process group of each job still running when its
 * start is reported (with the leader's start time) and its end; every
 * process of its jobs carries the worker id in its cookie, which the
 * watchdog finds in /proc.
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

/** How a watchdog is set up. */
export interface WatchdogOptions {
  /** The supervisor's worker id: the prefix of its jobs' cookies. */
  workerId: string;
  /** Told once when there is no bash (then nothing is fenced) or when the watchdog had to be restarted. */
  onError(message: string): void;
}

/**
 * The supervisor's side of the watchdog: see the module comment. Jobs are
 * found by their cookie (`<worker id>/…`), so a claim costs no message; a
 * job still running when its start is reported has its process group told
 * (`P`), and its end (`E`); a short job whose start and end are reported
 * together costs none.
 */
export class Watchdog {
  #options: WatchdogOptions;
  #child: Deno.ChildProcess | null = null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  /** Process groups told (or to be told), by group id: the leader's start time. */
  #groups = new Map<number, string>();
  /** The last renewal's deadlines, on `performance.now()`. */
  #deadline: { termAt: number; killAt: number } | null = null;
  /** Lines not written yet, with the group they are about (0: none). */
  #queue: { pgid: number; line: string }[] = [];
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
    const args = [
      "-c",
      watchdogScript(),
      WATCHDOG_NAME,
      String(WATCHDOG_EOF_GRACE_MS),
      String(Deno.pid),
      this.#options.workerId,
    ];
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
      const deadline = this.#deadline;
      if (deadline !== null) {
        const now = performance.now();
        this.#send(0, `R ${ms(deadline.termAt - now)} ${ms(deadline.killAt - now)}`);
      }
      for (const [pgid, start] of this.#groups) this.#send(pgid, `P ${pgid} ${start}`);
    });
  }

  /**
   * Every running job's lease was renewed by a call begun at `startedAt`
   * (monotonic): a heartbeat, or a claim made while nothing ran. Sent on
   * every renewal, jobs or not, so a job claimed next is covered at once.
   */
  renewed(startedAt: number, leaseMs: number): void {
    const plan = watchdogPlan(leaseMs);
    const termAt = startedAt + plan.termAfterMs;
    const killAt = startedAt + plan.killAfterMs;
    this.#deadline = {
      termAt: Math.max(termAt, this.#deadline?.termAt ?? 0),
      killAt: Math.max(killAt, this.#deadline?.killAt ?? 0),
    };
    const now = performance.now();
    this.#send(0, `R ${ms(termAt - now)} ${ms(killAt - now)}`);
  }

  /** A job's shell started: its process group and the leader's start time. */
  started(pgid: number, procStart: string | null): void {
    if (procStart === null) return; // the cookie still finds it
    this.#groups.set(pgid, procStart);
    this.#send(pgid, `P ${pgid} ${procStart}`);
  }

  /** The job of group `pgid` ended: forgotten (a start not written yet is dropped instead). */
  ended(pgid: number | null): void {
    if (pgid === null || !this.#groups.delete(pgid)) return;
    const pending = this.#queue.some((q) => q.pgid === pgid);
    if (pending) this.#queue = this.#queue.filter((q) => q.pgid !== pgid);
    else this.#send(pgid, `E ${pgid}`);
  }

  /**
   * The supervisor is done: closes the pipe, so the watchdog exits (ending
   * whatever still carries this worker's cookie, which after a normal stop
   * is nothing).
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

  #send(pgid: number, line: string): void {
    if (this.#writer === null || this.#closed) return;
    this.#queue.push({ pgid, line });
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
