/**
 * The event log's model (README "Events", DESIGN.md "The event log"): the
 * closed set of event types, the event as printed, and the pure rules
 * around it (which events end an attempt, which reach a webhook, the
 * environment of an `on_finish` hook).
 */
import { UsageError } from "./errors.ts";
import { type HookResult, isoTime, type RunOutcome } from "./job.ts";

export type { HookResult };

/** Every event type; a closed set. `hook` records an `on_finish` hook's result. */
export const EVENT_TYPES = [
  "enqueued",
  "blocked",
  "unblocked",
  "started",
  "progress",
  "completed",
  "failed",
  "dead",
  "cancelled",
  "held",
  "released",
  "edited",
  "hook",
] as const;

/** One event type. */
export type EventType = typeof EVENT_TYPES[number];

/** The types that end a job's attempt or the job: what runs hooks and, by default, webhooks. */
export const FINISH_TYPES = ["completed", "failed", "dead", "cancelled"] as const;

/** One event as `events` prints it (one JSON object a line) and webhooks POST it. */
export interface QueueEvent {
  /** Store-wide, increasing, gap-free in the order readers see them: the `--since` cursor. */
  seq: number;
  at: string;
  type: EventType;
  job: string;
  queue: string;
  attempt: number;
  exit_code: number | null;
  outcome: RunOutcome | null;
  host: string | null;
  worker: string | null;
  error: string | null;
  progress: number | null;
  message: string | null;
}

/** Whether `value` is an event type. */
export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/** Parses `--type` values; an unknown type is a UsageError listing the known ones. */
export function parseEventTypes(raw: readonly string[]): EventType[] {
  const types: EventType[] = [];
  for (const entry of raw) {
    for (const part of entry.split(",")) {
      const type = part.trim();
      if (type === "") continue;
      if (!isEventType(type)) {
        throw new UsageError(
          `Unknown event type "${type}"`,
          `known types: ${EVENT_TYPES.join(", ")}`,
        );
      }
      types.push(type);
    }
  }
  return types;
}

/** Parses `--since`: a whole number >= 0. */
export function parseSince(raw: string): number {
  const text = raw.trim();
  if (!/^\d{1,15}$/.test(text)) {
    throw new UsageError(
      `Invalid --since "${raw}"`,
      "give the seq of the last event seen, a whole number >= 0",
    );
  }
  return Number(text);
}

/** A stored event row (times in epoch ms, same columns in both stores) as a {@linkcode QueueEvent}. */
export function toEvent(row: Record<string, unknown>): QueueEvent {
  return {
    seq: Number(row.seq),
    at: isoTime(Number(row.at)),
    type: row.type as EventType,
    job: row.job_id as string,
    queue: row.queue as string,
    attempt: Number(row.attempt),
    exit_code: (row.exit_code as number | null) ?? null,
    outcome: (row.outcome as RunOutcome | null) ?? null,
    host: (row.host as string | null) ?? null,
    worker: (row.worker as string | null) ?? null,
    error: (row.error as string | null) ?? null,
    progress: row.progress === null || row.progress === undefined ? null : Number(row.progress),
    message: (row.message as string | null) ?? null,
  };
}

/** Longest progress message kept. */
export const PROGRESS_MESSAGE_MAX = 1000;

/** Parses `queuectl progress`'s value: a whole number 0–100. */
export function parseProgress(raw: string): number {
  const text = raw.trim();
  const value = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  if (!(value >= 0 && value <= 100)) {
    throw new UsageError(`Invalid progress "${raw}"`, "give a whole number from 0 to 100");
  }
  return value;
}

/** Checks a progress message's length. */
export function checkProgressMessage(message: string): string {
  if (message.length > PROGRESS_MESSAGE_MAX) {
    throw new UsageError(
      `Progress message is ${message.length} characters long`,
      `keep it to ${PROGRESS_MESSAGE_MAX}`,
    );
  }
  return message;
}
