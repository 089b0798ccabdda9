/** What every scenario receives: sizes, the CLI to run, and a progress log. */
import type { CliRunner } from "./_process.ts";
import type { Row } from "./_result.ts";
import type { BenchDb, StoreProvider } from "./_store.ts";

/**
 * Extra content a scenario's database holds before it runs (scenario 9:
 * schedules due while it runs), and what its workers are told.
 */
export interface BenchSeed {
  /** Writes the extra content into a fresh database, after its schema. */
  apply(db: BenchDb): Promise<void>;
  /** Extra arguments of `worker start`, e.g. `--queue default`. */
  workerArgs: string[];
}

/** Settings of one benchmark run. */
export interface BenchContext {
  /** Smaller sizes for a smoke check. */
  quick: boolean;
  /** How the CLI is started. */
  cli: CliRunner;
  /** Prints progress to stderr. */
  log(message: string): void;
  /** The store the scenario runs on (SQLite unless `--store postgres`). */
  store: StoreProvider;
  /**
   * On PostgreSQL: the rows the same scenario measured on SQLite in this run,
   * the baselines of the PostgreSQL targets; `null` on SQLite.
   */
  sqlite: Row[] | null;
  /** Extra content of the database (scenario 9); none when absent. */
  seed?: BenchSeed | undefined;
}

/** A scenario: a numbered name and the function that measures it. */
export interface Scenario {
  /** e.g. `1 batch enqueue`. */
  name: string;
  /** A short key for `--only`, e.g. `enqueue`. */
  key: string;
  run(ctx: BenchContext): Promise<Row[]>;
  /** Whether it also runs on PostgreSQL with `--store postgres`. */
  postgres?: boolean;
}
