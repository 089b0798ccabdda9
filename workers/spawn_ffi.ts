/**
 * Starts a job with one process start and its own session: glibc's
 * `posix_spawn` with `POSIX_SPAWN_SETSID` through Deno FFI (Linux, glibc
 * 2.29+, needs `--allow-ffi`; `worker start` runs with `-A`). `Deno.Command`
 * cannot make a session without `detached` (a full fork of the supervisor)
 * or an extra exec of `setsid(1)`; this way costs what a plain spawn does.
 *
 * The session leader is never reaped before its group is signalled: its
 * exit is seen through a pidfd, its status read with `waitid(WNOWAIT)`, and
 * only after `release()` is it reaped, so the group id cannot be reused by
 * an unrelated process while this runner may still signal it.
 *
 * Waiting costs one thread of the isolate's blocking pool in all: a single
 * `epoll_wait()` per isolate watches every job's pidfd and pipes (a thread
 * per wait or read would starve the pool with a dozen long jobs in one isolate).
 */

const O_RDONLY = 0;
import { errorMessage } from "../lib/errors.ts";
const O_NONBLOCK = 0x800;
const O_CLOEXEC = 0x80000;
const F_SETFL = 4;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const SIGPIPE = 13;
const P_PID = 1;
const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
const EPOLLIN = 0x1;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
/** `struct epoll_event` is packed on x86_64 (12 bytes), naturally aligned elsewhere (16). */
const EPOLL_EVENT_BYTES = Deno.build.arch === "x86_64" ? 12 : 16;
const EPOLL_DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;
const EPOLL_MAX_EVENTS = 64;
const SYS_PIDFD_OPEN = 434n; // the same on x86_64 and aarch64
const CLD_EXITED = 1;
/** glibc's opaque structs are 336 (attr) and 80 (file actions) bytes on x86_64: room to spare. */
const STRUCT_BYTES = 1024;
const READ_CHUNK = 65536;

const SYMBOLS = {
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  sigaddset: { parameters: ["buffer", "i32"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32", nonblocking: true },
  waitid: { parameters: ["i32", "i32", "buffer", "i32"], result: "i32" },
  syscall: { parameters: ["i64", "i64", "i64"], result: "i64" },
  gnu_get_libc_version: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Linux signal numbers 1–31 by name, for a status read by `waitid`. */
const SIGNALS: (Deno.Signal | null)[] = [
  null,
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
  "SIGSYS",
];

const encoder = new TextEncoder();

function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** A NULL-terminated array of C strings, all in one buffer (kept alive by `keep`). */
function cStringArray(
  items: string[],
): { pointers: BigUint64Array<ArrayBuffer>; keep: Uint8Array } {
  const encoded = items.map((item) => encoder.encode(item));
  const keep = new Uint8Array(encoded.reduce((sum, e) => sum + e.length + 1, 0));
  const base = Deno.UnsafePointer.value(Deno.UnsafePointer.of(keep));
  const pointers = new BigUint64Array(items.length + 1);
  let offset = 0;
  encoded.forEach((bytes, i) => {
    keep.set(bytes, offset);
    pointers[i] = BigInt(base) + BigInt(offset);
    offset += bytes.length + 1;
  });
  return { pointers, keep };
}

interface Loaded {
  libc: Libc;
  /** Shared, immutable attributes: new session, SIGPIPE to default, empty mask. */
  attr: Uint8Array<ArrayBuffer>;
  devNull: Uint8Array<ArrayBuffer>;
  shell: Uint8Array<ArrayBuffer>;
}

let loaded: Loaded | string | undefined;

function forcedFallback(): boolean {
  try {
    return Deno.env.get("QUEUECTL_SPAWN") === "fallback";
  } catch {
    return false;
  }
}

function load(): Loaded | string {
  if (forcedFallback()) return "QUEUECTL_SPAWN=fallback";
  if (Deno.build.os !== "linux") return `not Linux (${Deno.build.os})`;
  if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") {
    return `untested architecture ${Deno.build.arch}`;
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return "no --allow-ffi";
  let libc: Libc;
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch (error) {
    return `no glibc 2.29+ (${errorMessage(error)})`;
  }
  const version = new Deno.UnsafePointerView(libc.gnu_get_libc_version()!).getCString();
  const pidfd = Number(libc.syscall(SYS_PIDFD_OPEN, BigInt(Deno.pid), 0n));
  if (pidfd < 0) return `no pidfd_open (kernel older than 5.3), glibc ${version}`;
  libc.close(pidfd);
  const attr = new Uint8Array(STRUCT_BYTES);
  const sigdefault = new Uint8Array(128);
  const sigmask = new Uint8Array(128);
  libc.sigemptyset(sigdefault);
  libc.sigaddset(sigdefault, SIGPIPE); // Deno ignores SIGPIPE; jobs expect the default
  libc.sigemptyset(sigmask);
  if (
    libc.posix_spawnattr_init(attr) !== 0 ||
    libc.posix_spawnattr_setflags(
        attr,
        POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK,
      ) !== 0 ||
    libc.posix_spawnattr_setsigdefault(attr, sigdefault) !== 0 ||
    libc.posix_spawnattr_setsigmask(attr, sigmask) !== 0
  ) return `posix_spawnattr setup failed (glibc ${version})`;
  return { libc, attr, devNull: cString("/dev/null"), shell: cString("/bin/sh") };
}

function lib(): Loaded | string {
  loaded ??= load();
  return loaded;
}

/** Why the FFI way is not used here, or `null` when it is. */
export function ffiUnavailableReason(): string | null {
  const state = lib();
  return typeof state === "string" ? state : null;
}

/**
 * Whether a process (or thread) with this id exists, by `kill(pid, 0)`: a
 * syscall, where a failed open of /proc costs ~20 times more. `undefined`
 * when the FFI way is not loaded.
 */
export function pidExistsFfi(pid: number): boolean | undefined {
  const state = lib();
  if (typeof state === "string") return undefined;
  return state.libc.kill(pid, 0) === 0;
}

let fileBuffer = new Uint8Array(16384);

/**
 * Reads a small file whole (`/proc/<pid>/environ`, `/proc/<pid>/stat`) with
 * plain `open`/`read`, or `null` when it cannot be opened: a scan probes pids
 * that mostly no longer exist, and a failed `Deno.readFileSync` costs an
 * exception each. Returns a view on a shared buffer, valid until the next
 * call; `undefined` when the FFI way is not loaded (use Deno's reads).
 */
export function readFileFfi(path: string): Uint8Array | null | undefined {
  const state = lib();
  if (typeof state === "string") return undefined;
  const { libc } = state;
  const fd = libc.open(cString(path), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return null;
  let size = 0;
  try {
    for (;;) {
      if (size === fileBuffer.length) {
        const bigger = new Uint8Array(fileBuffer.length * 2);
        bigger.set(fileBuffer);
        fileBuffer = bigger;
      }
      const n = Number(
        libc.read(fd, fileBuffer.subarray(size), BigInt(fileBuffer.length - size)),
      );
      if (n < 0) return null;
      if (n === 0) return fileBuffer.subarray(0, size);
      size += n;
    }
  } finally {
    libc.close(fd);
  }
}

/**
 * One epoll set for every watched fd of this isolate, waited on by a single
 * nonblocking FFI call at a time. Adding and removing fds are plain calls
 * that never wake the wait; each registration carries a token of its own,
 * so an event collected for an fd closed meanwhile (whose number a new
 * pipe may already reuse) finds no callback and is dropped.
 */
class Poller {
  #libc: Libc;
  #epoll: number;
  #callbacks = new Map<number, () => void>();
  #tokens = new Map<number, number>();
  #nextToken = 1;
  #polling = false;
  #event = new Uint8Array(EPOLL_EVENT_BYTES);
  #events = new Uint8Array(EPOLL_EVENT_BYTES * EPOLL_MAX_EVENTS);

  constructor(libc: Libc) {
    this.#libc = libc;
    this.#epoll = libc.epoll_create1(O_CLOEXEC);
    if (this.#epoll < 0) throw new Error("epoll_create1 failed");
  }

  watch(fd: number, onReady: () => void): void {
    const token = this.#nextToken++;
    const view = new DataView(this.#event.buffer);
    view.setUint32(0, EPOLLIN, true);
    view.setBigUint64(EPOLL_DATA_OFFSET, BigInt(token), true);
    if (this.#libc.epoll_ctl(this.#epoll, EPOLL_CTL_ADD, fd, this.#event) !== 0) {
      throw new Error("epoll_ctl failed");
    }
    this.#callbacks.set(token, onReady);
    this.#tokens.set(fd, token);
    if (!this.#polling) this.#loop();
  }

  /** Stops watching `fd` and closes it. */
  close(fd: number): void {
    const token = this.#tokens.get(fd);
    if (token === undefined) return;
    this.#tokens.delete(fd);
    this.#callbacks.delete(token);
    this.#libc.epoll_ctl(this.#epoll, EPOLL_CTL_DEL, fd, this.#event);
    this.#libc.close(fd);
  }

  async #loop(): Promise<void> {
    this.#polling = true;
    const view = new DataView(this.#events.buffer);
    try {
      while (this.#callbacks.size > 0) {
        // A timeout bounds how long a terminated worker's wait thread lingers.
        const ready = await this.#libc.epoll_wait(
          this.#epoll,
          this.#events,
          EPOLL_MAX_EVENTS,
          1000,
        );
        for (let i = 0; i < ready; i++) {
          const token = Number(view.getBigUint64(i * EPOLL_EVENT_BYTES + EPOLL_DATA_OFFSET, true));
          this.#callbacks.get(token)?.();
        }
      }
    } finally {
      this.#polling = false;
    }
  }
}

let poller: Poller | undefined;
let readBuffer: Uint8Array<ArrayBuffer> | undefined;
/** The shells this isolate started and has not reaped yet. */
const sessions = new Set<number>();

/**
 * Whether `pid` is a job shell this isolate started (and has not reaped):
 * the leader of a session of its own, so never another job's descendant.
 * A scan skips it: reading a shell's environment while it is still inside
 * `execve` waits for the exec to finish.
 */
export function isOwnSession(pid: number): boolean {
  return sessions.has(pid);
}

/** How a shell exited, as `Deno.CommandStatus` tells it. */
export interface ExitStatus {
  code: number;
  signal: Deno.Signal | null;
}

/** What to start: `/bin/sh -c command` with this environment and cwd. */
export interface SpawnOptions {
  command: string;
  cwd: string | null;
  env: Record<string, string>;
  onStdout: (chunk: Uint8Array) => void;
  onStderr: (chunk: Uint8Array) => void;
}

/** A job started by {@linkcode spawnSession}. */
export interface SessionProcess {
  /** The shell's pid, which is also its session and process group id. */
  pid: number;
  /** The shell has exited; it stays unreaped (its group id pinned) until `release()`. */
  status: Promise<ExitStatus>;
  /** Both pipes reached end of file (every writer is gone) or were closed. */
  output: Promise<void>;
  /** Stops reading output and closes the pipes. */
  closeOutput(): void;
  /** Reaps the exited shell; after this its group id may be reused. */
  release(): void;
}

/** Result of a start: the process, or the errno message of a failed start. */
export type SpawnResult = { ok: true; process: SessionProcess } | { ok: false; error: string };

const ERRNO: Record<number, string> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  7: "Argument list too long",
  12: "Cannot allocate memory",
  13: "Permission denied",
  20: "Not a directory",
  24: "Too many open files",
};

/** Starts `/bin/sh -c command` as the leader of a new session. Needs {@linkcode ffiUnavailableReason} null. */
export function spawnSession(options: SpawnOptions): SpawnResult {
  const state = lib();
  if (typeof state === "string") throw new Error(`FFI spawn unavailable: ${state}`);
  const { libc, attr, devNull, shell } = state;
  const strings = [options.command, options.cwd ?? "", ...Object.entries(options.env).flat()];
  if (strings.some((text) => text.includes("\0"))) {
    return { ok: false, error: "a NUL byte in the command, cwd or environment" };
  }
  poller ??= new Poller(libc);
  readBuffer ??= new Uint8Array(READ_CHUNK);
  const fds = new Int32Array(4);
  if (libc.pipe2(fds.subarray(0, 2), O_CLOEXEC) !== 0) return { ok: false, error: "pipe failed" };
  if (libc.pipe2(fds.subarray(2, 4), O_CLOEXEC) !== 0) {
    libc.close(fds[0]!);
    libc.close(fds[1]!);
    return { ok: false, error: "pipe failed" };
  }
  const [outRead, outWrite, errRead, errWrite] = [fds[0]!, fds[1]!, fds[2]!, fds[3]!];
  const actions = new Uint8Array(STRUCT_BYTES);
  libc.posix_spawn_file_actions_init(actions);
  libc.posix_spawn_file_actions_addopen(actions, 0, devNull, O_RDONLY, 0);
  libc.posix_spawn_file_actions_adddup2(actions, outWrite, 1);
  libc.posix_spawn_file_actions_adddup2(actions, errWrite, 2);
  const cwd = options.cwd === null ? null : cString(options.cwd);
  if (cwd) libc.posix_spawn_file_actions_addchdir_np(actions, cwd);
  const argv = cStringArray(["/bin/sh", "-c", options.command]);
  const envp = cStringArray(Object.entries(options.env).map(([k, v]) => `${k}=${v}`));
  const pidOut = new Int32Array(1);
  const errno = libc.posix_spawn(pidOut, shell, actions, attr, argv.pointers, envp.pointers);
  libc.posix_spawn_file_actions_destroy(actions);
  libc.close(outWrite);
  libc.close(errWrite);
  // Keep the strings alive until posix_spawn has returned (the child has exec'd).
  void argv.keep, envp.keep, cwd;
  if (errno !== 0) {
    libc.close(outRead);
    libc.close(errRead);
    return { ok: false, error: ERRNO[errno] ?? `errno ${errno}` };
  }
  const pid = pidOut[0]!;
  sessions.add(pid);
  const pidfd = Number(libc.syscall(SYS_PIDFD_OPEN, BigInt(pid), 0n));
  libc.fcntl(outRead, F_SETFL, O_NONBLOCK);
  libc.fcntl(errRead, F_SETFL, O_NONBLOCK);
  const p = poller;
  const buffer = readBuffer;

  let openPipes = 2;
  let outputDone!: () => void;
  const output = new Promise<void>((resolve) => (outputDone = resolve));
  const open = new Set<number>();
  const closePipe = (fd: number) => {
    if (!open.delete(fd)) return;
    p.close(fd);
    if (--openPipes === 0) outputDone();
  };
  const watchPipe = (fd: number, onChunk: (chunk: Uint8Array) => void) => {
    open.add(fd);
    p.watch(fd, () => {
      const n = Number(libc.read(fd, buffer, BigInt(READ_CHUNK)));
      if (n > 0) onChunk(buffer.subarray(0, n));
      else if (n === 0) closePipe(fd); // end of file; n < 0 is EAGAIN (nothing yet)
    });
  };
  watchPipe(outRead, options.onStdout);
  watchPipe(errRead, options.onStderr);

  const info = new Uint8Array(128);
  const infoView = new DataView(info.buffer);
  const peek = (): ExitStatus | null => {
    infoView.setInt32(16, 0, true);
    if (libc.waitid(P_PID, pid, info, WEXITED | WNOWAIT | WNOHANG) !== 0) return null;
    if (infoView.getInt32(16, true) !== pid) return null; // si_pid: not exited yet
    const code = infoView.getInt32(8, true); // si_code
    const value = infoView.getInt32(24, true); // si_status
    if (code === CLD_EXITED) return { code: value, signal: null };
    return { code: 128 + value, signal: SIGNALS[value] ?? null };
  };
  let settle!: (status: ExitStatus) => void;
  const status = new Promise<ExitStatus>((resolve) => (settle = resolve));
  let exited = false;
  const onExit = () => {
    if (exited) return;
    const found = peek();
    if (found === null) return;
    exited = true;
    if (pidfd >= 0) p.close(pidfd);
    settle(found);
  };
  if (pidfd >= 0) p.watch(pidfd, onExit);
  else {
    // Cannot happen past the load-time probe short of fd exhaustion: poll the status.
    const timer = setInterval(() => {
      onExit();
      if (exited) clearInterval(timer);
    }, 10);
  }
  let released = false;
  return {
    ok: true,
    process: {
      pid,
      status,
      output,
      closeOutput: () => {
        closePipe(outRead);
        closePipe(errRead);
      },
      release: () => {
        if (released || !exited) return;
        released = true;
        sessions.delete(pid);
        libc.waitid(P_PID, pid, info, WEXITED | WNOHANG);
      },
    },
  };
}
