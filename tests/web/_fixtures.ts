/**
 * Fixtures of the dashboard tests: a store on a temp database (SQLite, or
 * the one a {@linkcode storeTest} gives), the app over it, a fake worker.
 */
import type { Hono } from "hono";
import { openStorage } from "../../lib/storage/open_storage.ts";
import type { Storage } from "../../lib/storage/storage.ts";
import { createApp, type HandlerDeps } from "../../web/handler.ts";
import { type TempDb, withTempDb } from "../_helpers.ts";

/** The token every fixture app uses. */
export const TOKEN = "test-token-0123456789";
/** The address every fixture app believes it is bound to. */
export const BASE = "http://127.0.0.1:5000";

/** An app over a fresh store, and a way to call it with the token. */
export interface AppFixture extends AsyncDisposable {
  /** The store's `--db` value: a file path or a PostgreSQL URL. */
  db: string;
  /** How the store shows its location (`status`'s `db`). */
  display: string;
  store: Storage;
  app: Hono;
  /** Calls the app at `path` with the bearer token (unless `init.headers` sets its own). */
  request(path: string, init?: RequestInit & { auth?: boolean }): Promise<Response>;
  /** How often `onJobsChanged` was called. */
  wakes: number;
}

/**
 * Makes an {@linkcode AppFixture}; dispose it with `await using`. On `tmp`
 * when given (which its owner disposes), else on a temporary SQLite database.
 */
export async function appFixture(
  extra: Partial<HandlerDeps> = {},
  tmp?: TempDb,
): Promise<AppFixture> {
  const owned = tmp ? null : await withTempDb();
  const db = (tmp ?? owned)!;
  const store = await openStorage(db.db);
  const fixture: AppFixture = {
    db: db.db,
    display: db.display,
    store,
    app: undefined as unknown as Hono,
    wakes: 0,
    request(path, init = {}) {
      const headers = new Headers(init.headers);
      if (init.auth !== false && !headers.has("authorization")) {
        headers.set("Authorization", `Bearer ${TOKEN}`);
      }
      return Promise.resolve(fixture.app.request(new Request(BASE + path, { ...init, headers })));
    },
    async [Symbol.asyncDispose]() {
      await store.close();
      await owned?.[Symbol.asyncDispose]();
    },
  };
  fixture.app = createApp({
    store,
    token: TOKEN,
    hostname: "127.0.0.1",
    port: 5000,
    onJobsChanged: () => fixture.wakes++,
    ...extra,
  });
  return fixture;
}

/** Adds jobs straight through the store, as another process would. */
export async function addJobs(
  store: Storage,
  ...jobs: {
    id: string;
    command?: string;
    queue?: string;
    max_retries?: number;
    after?: string[];
    key?: string;
    retry_on?: (number | "timeout")[];
  }[]
): Promise<void> {
  const now = Date.now();
  await store.jobInsertMany({
    now,
    jobs: jobs.map((j, i) => ({
      id: j.id,
      command: j.command ?? `echo ${j.id}`,
      queue: j.queue ?? "default",
      priority: 0,
      max_retries: j.max_retries ?? null,
      timeout: null,
      env: null,
      cwd: null,
      run_at: now - 1000 + i,
      after: j.after ?? null,
      key: j.key ?? null,
      retry_on: j.retry_on ?? null,
    })),
  });
}

/**
 * Runs the one due job `id` as a worker would, without a process: claims it,
 * then records the attempt as succeeded, or as failed into the DLQ.
 */
export async function runJob(
  store: Storage,
  id: string,
  result: { ok: boolean; stdout?: string; stderr?: string },
): Promise<void> {
  const now = Date.now();
  const [claimed] = await store.jobClaim({
    workerId: "w-test",
    queues: null,
    limit: 1,
    now,
    leaseMs: 30_000,
  });
  if (!claimed || claimed.id !== id) throw new Error(`expected to claim ${id}`);
  const encoder = new TextEncoder();
  await store.runFinishMany({
    finishes: [{
      id,
      workerId: "w-test",
      attempt: claimed.attempt,
      outcome: result.ok ? "succeeded" : "failed",
      exitCode: result.ok ? 0 : 1,
      signal: null,
      error: result.ok ? null : "exit code 1",
      finishedAt: now + 5,
      stdout: encoder.encode(result.stdout ?? ""),
      stderr: encoder.encode(result.stderr ?? ""),
      state: result.ok ? "completed" : "dead",
      nextRunAt: null,
      uncountAttempt: false,
    }],
  });
}

/** Reads server-sent events from a response body, one `{ event, data }` at a time. */
export function sseReader(response: Response) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  // A read that lost a race with the deadline stays pending for the next call.
  let pending: Promise<ReadableStreamReadResult<string>> | undefined;
  return {
    /** The next event (comments and `retry:` lines skipped), or throws after `timeoutMs`. */
    async next(timeoutMs = 5000): Promise<{ event: string; data: string }> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length) return { event, data: data.join("\n") };
          continue;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error("no server-sent event in time");
        let timer: ReturnType<typeof setTimeout> | undefined;
        pending ??= reader.read();
        const chunk = await Promise.race([
          pending,
          new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), left)),
        ]);
        clearTimeout(timer);
        if (chunk === null) continue;
        pending = undefined;
        if (chunk.done) throw new Error("the event stream ended");
        buffer += chunk.value;
      }
    },
    /** Disconnects, as a closed browser tab does. */
    async close(): Promise<void> {
      await reader.cancel().catch(() => {});
    },
  };
}
