/** What every scenario receives: sizes, the CLI to run, and a progress log. */
import type { CliRunner } from "./_process.ts";
import type { Row } from "./_result.ts";

/** Settings of one benchmark run. */
export interface BenchContext {
  /** Smaller sizes for a smoke check. */
  quick: boolean;
  /** How the CLI is started. */
  cli: CliRunner;
  /** Prints progress to stderr. */
  log(message: string): void;
}

/** A scenario: a numbered name and the function that measures it. */
export interface Scenario {
  /** e.g. `1 batch enqueue`. */
  name: string;
  /** A short key for `--only`, e.g. `enqueue`. */
  key: string;
  run(ctx: BenchContext): Promise<Row[]>;
}
