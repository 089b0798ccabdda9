/**
 * `deno task install`: puts a `queuectl` command on PATH with `deno install
 * -g` of this checkout's `main.ts`, its `deno.json` and the versions its
 * `deno.lock` pins (README, "Install"; DESIGN.md, "Install and service").
 *
 * Usage: deno task install [--root DIR]
 *
 * Without `--root` the command goes where `deno install -g` puts it:
 * `$DENO_INSTALL_ROOT/bin`, else `~/.deno/bin`. It prints where it went and,
 * when that folder is not on PATH, the line that adds it.
 */

/** The checkout: the folder of `main.ts`, `deno.json` and `deno.lock`. */
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The command's name on PATH. */
export const NAME = "queuectl";

/** Where `deno install -g` puts commands: `<root>/bin`. */
export function binDir(root: string | undefined): string {
  const base = root ?? (Deno.env.get("DENO_INSTALL_ROOT") ||
    `${Deno.env.get("HOME") ?? ""}/.deno`);
  return `${base.replace(/\/+$/, "")}/bin`;
}

/** Whether `dir` is one of the folders of `path` (a PATH value). */
export function onPath(dir: string, path: string | undefined): boolean {
  return (path ?? "").split(":").some((p) => p.replace(/\/+$/, "") === dir);
}

function parse(args: string[]): { root: string | undefined } {
  let root: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--root" || arg.startsWith("--root=")) {
      root = arg === "--root" ? args[++i] : arg.slice("--root=".length);
      if (!root) throw new Error("--root needs a folder");
    } else if (arg === "-h" || arg === "--help") {
      console.log("usage: deno task install [--root DIR]");
      Deno.exit(0);
    } else throw new Error(`unknown option "${arg}"; usage: deno task install [--root DIR]`);
  }
  // A relative root is the caller's: `deno task` runs us in the checkout and
  // says in INIT_CWD where it was started.
  if (root && !root.startsWith("/")) root = `${Deno.env.get("INIT_CWD") ?? Deno.cwd()}/${root}`;
  return { root };
}

/** Installs; returns the exit code. */
async function main(args: string[]): Promise<number> {
  let root: string | undefined;
  try {
    ({ root } = parse(args));
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 2;
  }
  // `deno install -g` of a package with a name (ours is @queuectl/queuectl)
  // writes a "links" entry into the lockfile it is given, and the next
  // `deno run` in the checkout rewrites the lock without it, refetching npm
  // metadata. So it gets a copy: the same pinned versions, the checkout's
  // lock untouched.
  const scratch = await Deno.makeTempDir({ prefix: "queuectl-install-" });
  try {
    await Deno.copyFile(`${ROOT}/deno.lock`, `${scratch}/deno.lock`);
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "install",
        "--global",
        "--force",
        "--quiet",
        // Every permission: see DESIGN.md, "Install and service".
        "--allow-all",
        "--name",
        NAME,
        "--config",
        `${ROOT}/deno.json`,
        "--lock",
        `${scratch}/deno.lock`,
        ...(root ? ["--root", root] : []),
        `${ROOT}/main.ts`,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (output.code !== 0) {
      const decoder = new TextDecoder();
      console.error(decoder.decode(output.stdout) + decoder.decode(output.stderr));
      console.error(`error: deno install failed (exit ${output.code})`);
      return 1;
    }
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
  const bin = binDir(root);
  const command = `${bin}/${NAME}`;
  const check = await new Deno.Command(command, { args: ["--version"], stderr: "inherit" })
    .output();
  if (check.code !== 0) {
    console.error(`error: ${command} was written but "${NAME} --version" failed`);
    return 1;
  }
  const version = new TextDecoder().decode(check.stdout).trim();
  console.log(`installed ${NAME} ${version} as ${command}`);
  console.log(
    `  (it runs ${ROOT}/main.ts with deno from PATH; rerun this after moving the checkout)`,
  );
  if (onPath(bin, Deno.env.get("PATH"))) {
    console.log(`${bin} is on PATH: run "${NAME} --help"`);
  } else {
    console.log(`${bin} is not on PATH; add it (and put the line in ~/.bashrc or ~/.profile):`);
    console.log(`  export PATH="${bin}:$PATH"`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
