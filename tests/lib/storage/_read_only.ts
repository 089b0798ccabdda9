/**
 * Makes a file read-only for a test, also for root: `chattr +i` where the
 * file system has it, else (not root) `chmod 0444`. Root ignores file modes,
 * so when neither works the probe says why and the test is skipped.
 */

async function chattr(flag: "+i" | "-i", path: string): Promise<boolean> {
  try {
    const output = await new Deno.Command("chattr", { args: [flag, path], stderr: "null" })
      .output();
    return output.success;
  } catch {
    return false; // chattr is not installed
  }
}

async function isWritable(path: string): Promise<boolean> {
  try {
    const file = await Deno.open(path, { write: true });
    file.close();
    return true;
  } catch {
    return false;
  }
}

/** A file made read-only until disposed. */
export type ReadOnlyFile = AsyncDisposable & { how: string };

/** Makes `path` read-only; `null` when this machine cannot (see {@linkcode readOnlySkipReason}). */
export async function makeReadOnly(path: string): Promise<ReadOnlyFile | null> {
  if (await chattr("+i", path)) {
    if (!(await isWritable(path))) {
      return { how: "chattr +i", [Symbol.asyncDispose]: async () => void await chattr("-i", path) };
    }
    await chattr("-i", path);
  }
  const mode = (await Deno.stat(path)).mode ?? 0o644;
  await Deno.chmod(path, 0o444);
  if (!(await isWritable(path))) {
    return { how: "chmod 0444", [Symbol.asyncDispose]: () => Deno.chmod(path, mode & 0o777) };
  }
  await Deno.chmod(path, mode & 0o777);
  return null;
}

/**
 * Why read-only files cannot be tested here, or `null` when they can. Tests
 * pass it as `ignore`, and it is printed once so a skip is never silent.
 */
export const readOnlySkipReason: string | null = await (async () => {
  const dir = await Deno.makeTempDir({ prefix: "queuectl-ro-probe-" });
  try {
    const path = `${dir}/probe`;
    await Deno.writeTextFile(path, "x");
    await using readOnly = await makeReadOnly(path);
    if (readOnly) return null;
    const reason = "skipping read-only database tests: running as root and `chattr +i` " +
      "does not work on this file system, so no file can be made read-only";
    console.log(reason);
    return reason;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
})();
