/**
 * Which host a process runs on, as the store records it: pid checks, orphan
 * clean-up and stop signals apply only to workers with the same host id.
 * A hostname alone is not enough: two containers may share one and would
 * then take each other's live workers for dead.
 */

let cached: string | undefined;

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return null;
  }
}

function pidNamespace(): string | null {
  try {
    return Deno.readLinkSync("/proc/self/ns/pid").replace(/^pid:\[(\d+)\]$/, "$1");
  } catch {
    return null;
  }
}

/**
 * The pid space this process runs in: the kernel's boot id and the pid
 * namespace (`3f2a9c1e:4026531836`), whatever `QUEUECTL_HOST_ID` says. A
 * pid means the same process only to processes of the same space, so a
 * worker judges another's pid only when their spaces match (DESIGN.md,
 * "Watchdog": two machines given one host id).
 */
export function pidSpace(): string {
  const boot = readText("/proc/sys/kernel/random/boot_id")?.replaceAll("-", "").slice(0, 8);
  return [boot, pidNamespace()].filter((p): p is string => !!p).join(":");
}

/**
 * `QUEUECTL_HOST_ID` when set; otherwise the hostname, the kernel's boot id
 * and the pid namespace (`web1:3f2a9c1e:4026531836`): one value per pid
 * space per boot, so pids compared under it are the same processes.
 */
export function hostId(): string {
  if (cached !== undefined) return cached;
  const given = Deno.env.get("QUEUECTL_HOST_ID")?.trim();
  if (given) return (cached = given);
  const boot = readText("/proc/sys/kernel/random/boot_id")?.replaceAll("-", "").slice(0, 8);
  const parts = [Deno.hostname(), boot, pidNamespace()].filter((p): p is string => !!p);
  return (cached = parts.join(":"));
}
