/**
 * The multi-host tests' evidence: jobs append one line per event to a file
 * on the shared disk (`<id> <host> <attempt> <start|end> <epoch ms> <pid>`;
 * the host as the harness names it in `QCTL_TEST_HOST`, whatever host id
 * the worker uses),
 * a watcher notes when each attempt's process is gone (all namespaces share
 * one pid space), and pure checkers find attempts of one job that ran at
 * the same time.
 */

/** One line a job wrote. */
export interface JobEvent {
  id: string;
  host: string;
  attempt: number;
  kind: "start" | "end";
  /** Wall clock of the host (`date +%s%3N`), epoch ms. */
  ms: number;
  /** The job's shell: its process group leader. */
  pid: number;
}

/** A shell command appending an event line of this job to `file`. */
export function eventLine(file: string, kind: JobEvent["kind"]): string {
  return `echo "$QUEUECTL_JOB_ID $QCTL_TEST_HOST $QUEUECTL_ATTEMPT ${kind} $(date +%s%3N) $$" >> '${file}'`;
}

/** A job command that logs its start, runs `body`, and logs its end. */
export function loggedJob(file: string, body: string): string {
  return `${eventLine(file, "start")}; ${body}; ${eventLine(file, "end")}`;
}

/** Parses an event file; throws on a malformed line (a torn write would be a finding). */
export function parseEvents(text: string): JobEvent[] {
  const events: JobEvent[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const parts = line.trim().split(" ");
    const [id, host, attempt, kind, ms, pid] = parts;
    if (
      parts.length !== 6 || (kind !== "start" && kind !== "end") || !/^\d+$/.test(attempt!) ||
      !/^\d+$/.test(ms!) || !/^\d+$/.test(pid!)
    ) {
      throw new Error(`Malformed event line: ${JSON.stringify(line)}`);
    }
    events.push({
      id: id!,
      host: host!,
      attempt: Number(attempt),
      kind,
      ms: Number(ms),
      pid: Number(pid),
    });
  }
  return events;
}

/** One attempt as the events and the watcher saw it. */
export interface Attempt {
  id: string;
  host: string;
  attempt: number;
  pid: number;
  start: number;
  /** When it wrote its end line: it ended by itself. */
  endLine: number | null;
  /** When the watcher first saw its process gone (an upper bound), if it did. */
  goneAt: number | null;
}

/** When an attempt stopped running: its end line, else when it was seen gone, else never. */
export function attemptEnd(a: Attempt): number {
  return a.endLine ?? a.goneAt ?? Infinity;
}

/** What tells one attempt's lines from another's: job, attempt, host and shell pid. */
export function attemptKey(e: Pick<JobEvent, "id" | "attempt" | "host" | "pid">): string {
  return `${e.id} ${e.attempt} ${e.host} ${e.pid}`;
}

/** Pairs start and end lines into attempts; `goneAt` by {@linkcode attemptKey}. */
export function toAttempts(events: JobEvent[], goneAt: ReadonlyMap<string, number>): Attempt[] {
  const byKey = new Map<string, Attempt>();
  const key = attemptKey;
  for (const e of events) {
    if (e.kind !== "start") continue;
    byKey.set(key(e), {
      id: e.id,
      host: e.host,
      attempt: e.attempt,
      pid: e.pid,
      start: e.ms,
      endLine: null,
      goneAt: goneAt.get(key(e)) ?? null,
    });
  }
  for (const e of events) {
    if (e.kind !== "end") continue;
    const a = byKey.get(key(e));
    if (a) a.endLine = e.ms;
  }
  return [...byKey.values()];
}

function describe(a: Attempt): string {
  const end = attemptEnd(a);
  return `attempt ${a.attempt} on ${a.host} (pid ${a.pid}) [${a.start}, ${
    end === Infinity ? "still running" : end
  }${a.endLine === null && end !== Infinity ? " killed" : ""}]`;
}

/**
 * Attempts of one job whose run times overlap (a job running twice at
 * once, on one host or two), and attempt numbers that started twice.
 * Empty when every job ran one attempt at a time.
 */
export function findOverlaps(attempts: Attempt[]): string[] {
  const byJob = new Map<string, Attempt[]>();
  for (const a of attempts) byJob.set(a.id, [...(byJob.get(a.id) ?? []), a]);
  const found: string[] = [];
  for (const [id, list] of byJob) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i]!;
        const b = list[j]!;
        if (a.attempt === b.attempt) {
          found.push(
            `job ${id}: attempt ${a.attempt} started twice: ${describe(a)}, ${describe(b)}`,
          );
        }
        if (b.start < attemptEnd(a) && a.start < attemptEnd(b)) {
          found.push(`job ${id}: ${describe(a)} overlaps ${describe(b)}`);
        }
      }
    }
  }
  return found;
}

/** Whether a process runs (a zombie does not), with its start time to tell a reused pid. */
function processStart(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? null : fields[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether process `pid` runs now (not a zombie). */
export function processRuns(pid: number): boolean {
  return processStart(pid) !== null;
}

/** Pids of running processes in process group `pgid` (all namespaces share one pid space). */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z" && Number(fields[2]) === pgid) members.push(Number(entry.name));
    } catch { /* gone meanwhile */ }
  }
  return members;
}

/**
 * Follows an event file and notes when each started attempt's process is
 * gone (first look at which it no longer runs, or runs as another process).
 * Dispose it to stop (awaits its loop).
 */
export class AttemptWatch implements AsyncDisposable {
  readonly file: string;
  #events: JobEvent[] = [];
  #goneAt = new Map<string, number>();
  #seen = new Map<string, string>();
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  #loop: Promise<void>;
  #error: unknown = null;

  constructor(file: string, readonly intervalMs = 50) {
    this.file = file;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        this.poll();
      } catch (error) {
        this.#error = error;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, this.intervalMs);
      });
    }
  }

  /** Reads the file and looks at every attempt not known to have ended. */
  poll(): void {
    let text = "";
    try {
      text = Deno.readTextFileSync(this.file);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    // Only whole lines: a job may be writing the last one right now.
    this.#events = parseEvents(text.slice(0, text.lastIndexOf("\n") + 1));
    const ended = new Set(this.#events.filter((e) => e.kind === "end").map(attemptKey));
    const now = Date.now();
    for (const e of this.#events) {
      const key = attemptKey(e);
      if (e.kind !== "start" || this.#goneAt.has(key) || ended.has(key)) continue;
      const start = processStart(e.pid);
      const first = this.#seen.get(key);
      if (first === undefined && start !== null) this.#seen.set(key, start);
      if (start === null || (first !== undefined && first !== start)) this.#goneAt.set(key, now);
    }
  }

  /** The events read so far. */
  events(): JobEvent[] {
    if (this.#error) throw this.#error;
    return this.#events;
  }

  /** Every attempt seen so far, with the times they ended or were seen gone. */
  attempts(): Attempt[] {
    return toAttempts(this.events(), this.#goneAt);
  }

  /** Stops watching after one last look. */
  async close(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#loop;
    this.poll();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
