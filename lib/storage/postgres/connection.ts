/**
 * What every PostgreSQL noun module takes first: {@linkcode PgDb} (the
 * pool, the URL, the NOTIFY channels, the server clock's offset) and the
 * helpers that run SQL on it: {@linkcode call} (the deadline and error
 * mapping), {@linkcode q}, {@linkcode begin}, {@linkcode notify}. Also the
 * driver options and the advisory lock keys, which several modules share.
 */
import type postgres from "postgres";
import { StorageError } from "../../errors.ts";
import { localNow } from "../../clock.ts";
import type { Row } from "../_rows.ts";
import { STATEMENT_TIMEOUT_MS, toStorageError } from "./errors.ts";
import type { PostgresUrl } from "./url.ts";

/** A postgres.js pool, reserved connection or transaction. */
export type Sql = postgres.Sql;

/** Every store call settles within this, even when the server stopped answering. */
export const CALL_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_S = 5;
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 15_000;

/** The first key of every advisory lock queuectl takes ("qu"), the second per schema and use. */
export const LOCK_CLASS = 0x7175;
/** Migrations, one process at a time. */
export const LOCK_MIGRATE = 1;
/** Folding the count deltas, one session at a time. */
export const LOCK_FOLD_COUNTS = 2;
/** Claims from one limited queue, one at a time across hosts (with the queue's name in the key). */
export const LOCK_QUEUE = 3;

/** A 32-bit FNV-1a hash, signed like PostgreSQL's int4. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** The server's clock in epoch milliseconds, as SQL. */
export const SERVER_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::float8";

/**
 * "Now" inside a statement, in epoch ms: the server's clock, or the time
 * bound to parameter `param` when a test passes one (a fixed clock;
 * River's `coalesce(@now, now())`). Every lease, turn and due judgement is
 * made with it (DESIGN.md, "Fencing").
 */
export function nowSql(param: string): string {
  return `coalesce(${param}::bigint, ${SERVER_MS}::bigint)`;
}

/**
 * The longest round trip whose clock sample is trusted: the offset is
 * assumed to be off by at most half of it (shown by `status` and `worker
 * list` only; no lease depends on it).
 */
export const OFFSET_MAX_ROUND_TRIP_MS = 1000;

/** Options of every connection pool of a store. */
export function driverOptions(
  url: PostgresUrl,
): postgres.Options<Record<string, postgres.PostgresType>> {
  return {
    connect_timeout: CONNECT_TIMEOUT_S,
    // The default backoff grows to 20 s: after a server restart every
    // query would hang that long. Retry within a second instead.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    onnotice: () => {},
    types: {
      // int8 (epoch ms, counts) and numeric (sums) as JS numbers, like SQLite's.
      bigint: {
        to: 20,
        from: [20, 1700],
        serialize: (x: number) => String(x),
        parse: (x: string) => Number(x),
      },
    },
    connection: {
      application_name: "queuectl",
      search_path: url.schema,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      // Never let a stalled client hold locks (and vacuum) for long.
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    },
  };
}

/** A store's connection to its server, as the noun modules use it. */
export interface PgDb {
  /** The pool every call runs on. */
  readonly sql: Sql;
  readonly url: PostgresUrl;
  /** Wakes idle workers: something became claimable, or a request arrived. */
  readonly channel: string;
  /** Sent when a job ends (completed, dead, cancelled): heard only by watches that ask. */
  readonly doneChannel: string;
  /** Server clock minus local clock, in ms. */
  offset: number;
  /** Driver calls under way, awaited by the store's close(). */
  readonly inflight: Set<Promise<unknown>>;
}

/** The {@linkcode PgDb} of a pool opened on `url`. */
export function pgDb(url: PostgresUrl, sql: Sql): PgDb {
  return {
    sql,
    url,
    // Channel names are database-wide, so the schema is in it (at most 63 bytes).
    channel: `queuectl_${url.schema}`.slice(0, 63),
    doneChannel: `queuectl_done_${url.schema}`.slice(0, 63),
    offset: 0,
    inflight: new Set(),
  };
}

/** Runs `fn` with a deadline; every error becomes a one-line QueuectlError. */
export async function call<T>(pg: PgDb, fn: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const work = fn();
  pg.inflight.add(work);
  work.then(
    () => pg.inflight.delete(work),
    () => pg.inflight.delete(work),
  );
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new StorageError(
                `PostgreSQL at ${pg.url.host}:${pg.url.port} did not answer within ${
                  CALL_TIMEOUT_MS / 1000
                } s`,
                "check that the server is running and reachable, then try again",
              ),
            ),
          CALL_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    throw toStorageError(error, pg.url);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends a statement at once (a postgres.js query otherwise starts only
 * when first awaited), so statements go out in the order they are made.
 */
export function q(db: Sql, query: string, args: unknown[] = []): Promise<Row[]> {
  return db.unsafe(query, args as never[], { prepare: true }).execute() as unknown as Promise<
    Row[]
  >;
}

/** Runs `fn` in a transaction on the pool. */
export function begin<T>(pg: PgDb, fn: (tx: Sql) => Promise<T>): Promise<T> {
  return pg.sql.begin((tx) => fn(tx as unknown as Sql)) as Promise<T>;
}

/** Wakes idle workers when `tx` commits. */
export function notify(pg: PgDb, tx: Sql): Promise<Row[]> {
  return q(tx, "SELECT pg_notify($1, '')", [pg.channel]);
}

/**
 * The server read `serverMs` in a round trip begun at `startedMono`
 * (`performance.now()`, which no clock step moves): assume the middle.
 * A round trip longer than {@linkcode OFFSET_MAX_ROUND_TRIP_MS} is not
 * trusted and leaves the offset as it was; returns whether it was taken.
 */
export function setOffset(pg: PgDb, serverMs: number, startedMono: number): boolean {
  const roundTrip = performance.now() - startedMono;
  if (roundTrip > OFFSET_MAX_ROUND_TRIP_MS) return false;
  pg.offset = Math.round(serverMs - (localNow() - roundTrip / 2));
  return true;
}

/** The `at` of a `SELECT min(…) AS at` read, or `null` when no row has one. */
export function earliest(pg: PgDb, sql: string): Promise<number | null> {
  return call(pg, async () => {
    const [row] = await q(pg.sql, sql);
    return (row?.at as number | null | undefined) ?? null;
  });
}
