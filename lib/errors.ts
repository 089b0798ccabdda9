/**
 * Typed errors. Each carries the process exit code (and, for the web
 * handler, the HTTP status) so that one place maps them: `main.ts` for the
 * CLI, `web/handler.ts` for HTTP.
 */

/** Base class of every error a user is meant to see as one line. */
export class QueuectlError extends Error {
  /** Process exit code: 1 the operation failed, 2 bad usage or input. */
  readonly exitCode: 1 | 2;
  /** HTTP status used by the dashboard API. */
  readonly httpStatus: number;
  /** Optional advice printed after the message: `error: <message>; <hint>`. */
  readonly hint: string | undefined;

  constructor(message: string, exitCode: 1 | 2, httpStatus: number, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.httpStatus = httpStatus;
    this.hint = hint;
  }
}

/** Bad usage or invalid input: exit 2, HTTP 400. */
export class UsageError extends QueuectlError {
  constructor(message: string, hint?: string) {
    super(message, 2, 400, hint);
  }
}

/** A job (or other named thing) does not exist: exit 1, HTTP 404. */
export class NotFoundError extends QueuectlError {
  constructor(message: string, hint?: string) {
    super(message, 1, 404, hint);
  }
}

/** The operation conflicts with the current state (duplicate id, wrong state): exit 1, HTTP 409. */
export class ConflictError extends QueuectlError {
  constructor(message: string, hint?: string) {
    super(message, 1, 409, hint);
  }
}

/** The database cannot be used (read-only, locked, corrupt, too new): exit 1, HTTP 500. */
export class StorageError extends QueuectlError {
  constructor(message: string, hint?: string) {
    super(message, 1, 500, hint);
  }
}

/**
 * The error for a worker started under a host id that a live worker on
 * another machine already uses (exit 1): pid checks would take each other's
 * live jobs for orphans.
 */
export function hostIdInUse(host: string, other: { id: string; pid: number }): ConflictError {
  return new ConflictError(
    `Host id "${host}" is in use by live worker ${other.id} (pid ${other.pid}) on another machine`,
    "give each machine its own QUEUECTL_HOST_ID, or unset it",
  );
}

/** The error for a job id that does not exist. */
export function jobNotFound(id: string): NotFoundError {
  return new NotFoundError(`Job "${id}" not found`, "see `queuectl list` for job ids");
}

/**
 * The error for output a job does not have: it never ran, or has no such
 * attempt or run. `stateHint` says where this front end shows the job's state.
 */
export function outputNotFound(
  job: { id: string; attempts: number },
  which: { attempt?: number | undefined; run?: number | undefined },
  stateHint: string,
): NotFoundError {
  if (which.run !== undefined) return new NotFoundError(`Job "${job.id}" has no run ${which.run}`);
  if (which.attempt !== undefined) {
    return new NotFoundError(
      `Job "${job.id}" has no attempt ${which.attempt}`,
      `it has run ${job.attempts} time(s)`,
    );
  }
  return new NotFoundError(`Job "${job.id}" has not run yet`, stateHint);
}

/** The error for a schedule name that does not exist (exit 1). */
export function scheduleNotFound(name: string): NotFoundError {
  return new NotFoundError(
    `Schedule "${name}" not found`,
    "see `queuectl schedule list` for schedule names",
  );
}

/** The error for a schedule name in use (exit 1). */
export function scheduleNameTaken(name: string): ConflictError {
  return new ConflictError(
    `Cannot add schedule "${name}": the name is in use`,
    `choose another name, or remove it first with \`queuectl schedule rm ${name}\``,
  );
}

/** Formats an error as the one line the CLI prints, without the `error: ` prefix. */
export function errorLine(error: QueuectlError): string {
  return error.hint ? `${error.message}; ${error.hint}` : error.message;
}

/** The message of anything thrown, for one-line reports. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
