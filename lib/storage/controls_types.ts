/**
 * The parameter and result types of the operator controls' storage methods
 * (README "Operating a queue"; `Storage.jobBulkStep`, `jobBulkCount`,
 * `jobEdit`), re-exported by `storage.ts`, whose interface uses them.
 */
import type { JobState } from "../job.ts";
import type { BulkAction } from "../state.ts";

/**
 * Which jobs an action by filter takes (README "Operating a queue"); every
 * part given must match. An empty filter matches every job.
 */
export interface JobFilter {
  state?: JobState | undefined;
  queue?: string | undefined;
  /** The job carries every one of these tags. */
  tags?: string[] | undefined;
  /** Created before this time (epoch ms): `--older-than`. */
  createdBefore?: number | undefined;
  /** A substring of the command, ignoring case as `list`'s search does. */
  commandLike?: string | undefined;
}

/** One batch of an action by filter: see {@linkcode Storage.jobBulkStep}. */
export interface BulkStepParams {
  action: BulkAction;
  filter: JobFilter;
  now: number;
  /** At most this many jobs looked at in this call (one transaction). */
  limit: number;
  /** The `cursor` of the previous step; absent on the first. */
  cursor?: string | null | undefined;
}

/** What one step of an action by filter did. */
export interface BulkStep {
  /** Jobs changed (cancelled, retried, deleted, held, released). */
  changed: number;
  /** Running jobs asked to stop (`cancel`): their workers cancel them. */
  requested: number;
  /** Matching jobs left alone: a retry whose key or dependency refuses it. */
  skipped: number;
  /** Pass to the next step; `null` when the filter has been walked to its end. */
  cursor: string | null;
}

/** What `edit` changes; a field left out keeps its value (README "Operating a queue"). */
export interface JobChanges {
  command?: string | undefined;
  priority?: number | undefined;
  queue?: string | undefined;
  /** The due time (epoch ms). */
  runAt?: number | undefined;
  max_retries?: number | null | undefined;
  timeout?: number | null | undefined;
  /** Replaces every tag (`null` or empty: none). */
  tags?: string[] | null | undefined;
  /** Replaces the whole environment (`null`: none). */
  env?: Record<string, string> | null | undefined;
}
