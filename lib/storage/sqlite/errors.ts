/**
 * SQLite's errors in queuectl's words: the result codes we explain, lock
 * detection, and the one-line StorageError each driver error becomes.
 */
import { ConflictError, errorMessage, QueuectlError, StorageError } from "../../errors.ts";

/** How long a statement waits for another process's lock (`PRAGMA busy_timeout`). */
export const BUSY_TIMEOUT_MS = 5000;

/** SQLite result codes we explain to the user (primary codes, low byte). */
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_CORRUPT = 11;
const SQLITE_CANTOPEN = 14;
/** A constraint failed; the inserts report it as a taken id. */
export const SQLITE_CONSTRAINT = 19;
const SQLITE_NOTADB = 26;

/** SQLITE_BUSY or SQLITE_LOCKED, also where the driver gives only the message. */
export function isLocked(error: unknown): boolean {
  const code = sqliteCode(error);
  if (code !== null) return code === SQLITE_BUSY || code === SQLITE_LOCKED;
  return error instanceof Error && /database (table )?is locked/.test(error.message);
}

/** The primary result code of a driver error, or `null` when it carries none. */
export function sqliteCode(error: unknown): number | null {
  if (error && typeof error === "object" && "errcode" in error) {
    const code = (error as { errcode: unknown }).errcode;
    if (typeof code === "number") return code & 0xff;
  }
  return null;
}

/** The error for an id that exists already. */
export function duplicateId(id: string): ConflictError {
  return new ConflictError(
    `Cannot enqueue job "${id}": a job with this id already exists`,
    "choose another id, or omit it to have one generated",
  );
}

/** Turns a driver error into a one-line StorageError that says what to do. */
export function toStorageError(error: unknown, path: string): QueuectlError {
  if (error instanceof QueuectlError) return error;
  const detail = errorMessage(error);
  // Errors from opening (and from changing the journal mode) carry no result code, only the message.
  const code = sqliteCode(error) ??
    (isLocked(error)
      ? SQLITE_BUSY
      : /unable to open database file/.test(detail)
      ? SQLITE_CANTOPEN
      : /file is not a database/.test(detail)
      ? SQLITE_NOTADB
      : null);
  switch (code) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return new StorageError(
        `Database "${path}" is locked by another process (waited ${BUSY_TIMEOUT_MS / 1000} s)`,
        "try again, or stop the process holding the lock",
      );
    case SQLITE_READONLY:
      return new StorageError(
        `Database "${path}" is read-only`,
        "check the permissions of the file and its folder, or pass --db with a writable path",
      );
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return new StorageError(
        `Database "${path}" is not a queuectl database or is corrupt`,
        "pass --db with another path, or restore it from a backup",
      );
    case SQLITE_CANTOPEN:
      return new StorageError(
        `Cannot open database "${path}"`,
        "check that the path is a file in a folder you can write",
      );
  }
  return new StorageError(`Database "${path}" failed: ${detail}`);
}
