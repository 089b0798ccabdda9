/**
 * PostgreSQL `--db` URLs: recognising them, reading them, and showing them
 * without the password. No driver import here: every command loads this
 * file, and the driver costs tens of milliseconds to import.
 */
import { UsageError } from "../../errors.ts";

/** The schema used when the URL names none. */
export const DEFAULT_SCHEMA = "queuectl";

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A PostgreSQL URL read apart, as the store needs it. */
export interface PostgresUrl {
  /** The URL to connect with: the original minus its `schema` parameter. */
  connectionUrl: string;
  /** The schema holding queuectl's tables. */
  schema: string;
  /** `postgres://user@host:port/db?schema=NAME`: safe to show (no password). */
  display: string;
  host: string;
  port: number;
  user: string;
  database: string;
}

/** Whether `location` is a PostgreSQL URL (`postgres://` or `postgresql://`). */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/**
 * Reads a PostgreSQL URL. A URL that cannot be read, or a schema name that
 * is not a plain lower-case identifier, is a UsageError naming the value
 * (with the password masked).
 */
export function parsePostgresUrl(url: string): PostgresUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(
      `Invalid PostgreSQL URL "${maskPassword(url)}"`,
      "write it as postgres://user:password@host:port/database?schema=NAME",
    );
  }
  const schema = parsed.searchParams.get("schema") ?? DEFAULT_SCHEMA;
  if (!SCHEMA_NAME.test(schema)) {
    throw new UsageError(
      `Invalid schema name "${schema}" in the PostgreSQL URL`,
      "use lower-case letters, digits and underscores, starting with a letter or underscore (at most 63)",
    );
  }
  const user = decodeURIComponent(parsed.username) ||
    Deno.env.get("PGUSER") || Deno.env.get("USER") || "postgres";
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost";
  const port = parsed.port ? Number(parsed.port) : 5432;
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || user;
  parsed.searchParams.delete("schema");
  const hostPort = `${parsed.hostname || "localhost"}:${port}`;
  return {
    connectionUrl: parsed.toString(),
    schema,
    display: `postgres://${parsed.username ? `${parsed.username}@` : ""}${hostPort}/${
      encodeURIComponent(database)
    }?schema=${schema}`,
    host,
    port,
    user,
    database,
  };
}

/**
 * A location safe to show: a PostgreSQL URL without its password, its
 * schema always shown; anything else (a file path) unchanged.
 */
export function redactLocation(location: string): string {
  if (!isPostgresUrl(location)) return location;
  try {
    return parsePostgresUrl(location).display;
  } catch {
    return maskPassword(location);
  }
}

/** A URL with whatever sits between `user:` and `@` masked, for a URL too broken to parse. */
function maskPassword(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, "$1:***@");
}
