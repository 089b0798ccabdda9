/**
 * The building blocks of the command tree (`main.ts` and the command
 * modules beside it that define a group of commands, such as
 * `_controls_commands.ts`): the context every command receives, flag and
 * argument shapes, help with examples, and the lazy loader of `cli/<name>.ts`.
 */
import type { CommandContext } from "@stricli/core";
import type { CliContext } from "./_context.ts";

/** What every command function receives as `this`. */
export interface Context extends CommandContext {
  cli: CliContext;
  /** Whether the command line held a literal `--` (enqueue's `-- <command...>` form). */
  dashDash: boolean;
}

/** A flag that takes a value, given as text; the command validates it. */
export const valueFlag = (brief: string, placeholder: string) =>
  ({ kind: "parsed", parse: String, brief, placeholder, optional: true }) as const;

/** A flag that takes a value, with a default. */
export const defaultFlag = (brief: string, placeholder: string, value: string) =>
  ({ kind: "parsed", parse: String, brief, placeholder, default: value }) as const;

/** A flag that may be given many times, each with a value. */
export const repeatFlag = (brief: string, placeholder: string) =>
  ({ ...valueFlag(brief, placeholder), variadic: true }) as const;

/** An on/off flag, off unless given. */
export const switchFlag = (brief: string) =>
  ({ kind: "boolean", brief, optional: true, withNegated: false }) as const;

/** A positional argument, given as text. */
export const arg = (placeholder: string, brief: string) =>
  ({ brief, placeholder, parse: String }) as const;

/** Help for a command: its one-line description and examples. */
export function docs(brief: string, ...examples: string[]) {
  const lines = examples.map((line) => `  $ ${line}`).join("\n");
  return { brief, fullDescription: `${brief}\n\nExamples:\n${lines}` };
}

/**
 * Loads `cli/<name>.ts`, typed as `M`. The specifier is built at run time on
 * purpose: Deno loads the whole module graph of every literal `import("...")`
 * at start-up, which cost each command ~8 ms for the modules of the others.
 * `deno task compile` includes `cli/` explicitly for the same reason.
 */
export function load<M>(name: string): Promise<M> {
  return import(new URL(`./${name}.ts`, import.meta.url).href);
}
