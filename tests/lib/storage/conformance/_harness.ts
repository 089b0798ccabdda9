/** What the conformance index hands each module: how to register a case, and the database. */
import type { Storage } from "../../../../lib/storage/storage.ts";

/** A fresh, empty database for one test; each open() is one more connection to it. */
export interface TestDatabase extends AsyncDisposable {
  open(): Promise<Storage>;
}

/**
 * Registers one case under `title`: `fn` gets one connection, closed at its
 * end, and the database to open more.
 */
export type ConformanceTest = (
  title: string,
  fn: (store: Storage, db: TestDatabase) => void | Promise<void>,
) => void;
