/**
 * Driver errors as queuectl's: one line naming the server and what to do
 * ({@linkcode toStorageError}), and the SQLSTATE helpers the store's
 * modules test errors with.
 */
import postgres from "postgres";
import { ConflictError, errorMessage, QueuectlError, StorageError } from "../../errors.ts";
import type { PostgresUrl } from "./url.ts";

/**
 * The server cancels a statement running longer than this (every
 * connection's `statement_timeout`, set in `connection.ts`); here because
 * the error it causes names it.
 */
export const STATEMENT_TIMEOUT_MS = 10_000;

/** Turns a driver error into a one-line error naming the server and what to do. */
export function toStorageError(error: unknown, server: PostgresUrl): QueuectlError {
  if (error instanceof QueuectlError) return error;
  const at = `PostgreSQL at ${server.host}:${server.port}`;
  const code = error && typeof error === "object" && "code" in error
    ? String((error as { code: unknown }).code)
    : "";
  const detail = oneLine(errorMessage(error));
  switch (code) {
    case "ECONNREFUSED":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ETIMEDOUT":
    case "CONNECT_TIMEOUT":
      return new StorageError(
        `Cannot reach ${at} (${code})`,
        "check that the server is running and that the host and port in the URL are right",
      );
    case "28P01":
    case "28000":
      return new StorageError(
        `${at} refused the login of user "${server.user}": ${detail}`,
        "check the user and password in the URL",
      );
    case "3D000":
      return new StorageError(
        `Database "${server.database}" does not exist on ${at}`,
        `create it with: createdb -h ${server.host} -p ${server.port} -U ${server.user} ${server.database}`,
      );
    case "53300":
      return new StorageError(
        `${at} has no free connections: ${detail}`,
        "lower --count or the number of worker processes, raise max_connections, or use a pooler in session mode",
      );
    case "57014":
      return new StorageError(
        `${at} cancelled a query after the statement timeout (${STATEMENT_TIMEOUT_MS / 1000} s)`,
        "try again; if it persists, check the server's load and locks",
      );
    case "40P01":
      return new StorageError(`${at} detected a deadlock: ${detail}`, "try again");
    case "57P01":
    case "57P02":
    case "57P03":
    case "CONNECTION_CLOSED":
    case "CONNECTION_ENDED":
    case "CONNECTION_DESTROYED":
    case "ECONNRESET":
    case "EPIPE":
      return new StorageError(
        `Lost the connection to ${at} (${code})`,
        "check that the server is running, then try again",
      );
  }
  if (code.startsWith("08")) {
    return new StorageError(
      `Lost the connection to ${at} (${code}): ${detail}`,
      "check that the server is running, then try again",
    );
  }
  return new StorageError(`${at} failed: ${detail}${code ? ` (${code})` : ""}`);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/** The SQLSTATE of a server error, or `null` for any other error. */
export function sqlState(error: unknown): string | null {
  return error instanceof postgres.PostgresError ? error.code : null;
}

/** The id a unique violation names in its detail: `Key (id)=(x) already exists.` */
export function duplicateId(error: unknown): string | null {
  if (sqlState(error) !== "23505") return null;
  const detail = (error as { detail?: string }).detail ?? "";
  const match = /^Key \(id\)=\((.*)\) already exists\.$/s.exec(detail);
  return match ? match[1]! : null;
}

/** The error for an id that exists already. */
export function duplicateIdError(id: string): ConflictError {
  return new ConflictError(
    `Cannot enqueue job "${id}": a job with this id already exists`,
    "choose another id, or omit it to have one generated",
  );
}
