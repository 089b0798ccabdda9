/**
 * The columns of the operator controls (README "Operating a queue") as the
 * other SQLite modules meet them: tags and `enqueue --hold` written after a
 * batch's insert, and the filters of `list --tag` and of actions by filter.
 * Private to this folder; the actions themselves are in `controls.ts`.
 *
 * Tags and holds are set by one statement each after the insert, in its
 * transaction, and only for a batch that has any: the insert statements
 * stay as they are, and a batch without them pays nothing.
 */
import type { SQLInputValue } from "node:sqlite";
import type { NewJob } from "../../job.ts";
import type { InsertResult, JobFilter } from "../storage.ts";
import type { SqliteDb } from "./connection.ts";

/** Stores the tags of the jobs just inserted and holds those enqueued with `hold`. */
export function insertExtras(db: SqliteDb, jobs: NewJob[], result: InsertResult): void {
  const kept = result.kept.length > 0 ? new Set(result.kept.map((k) => k.id)) : null;
  const added = (job: NewJob) => kept === null || !kept.has(job.id);
  const tagged: Record<string, string[]> = {};
  let anyTags = false;
  const held: string[] = [];
  for (const job of jobs) {
    if (!added(job)) continue;
    if (job.tags?.length) {
      tagged[job.id] = job.tags;
      anyTags = true;
    }
    if (job.hold) held.push(job.id);
  }
  if (anyTags) {
    db.run(
      `UPDATE jobs SET tags = t.value FROM json_each(?) AS t WHERE jobs.id = t.key`,
      JSON.stringify(tagged),
    );
  }
  if (held.length > 0) {
    // Held from what it was inserted as (pending or blocked); the count
    // trigger moves the counts along.
    db.run(
      `UPDATE jobs SET held_from = state, state = 'held'
       WHERE id IN (SELECT value FROM json_each(?))`,
      JSON.stringify(held),
    );
  }
}

/** Adds "carries every one of `tags`" to a WHERE list. */
export function addTagsFilter(where: string[], args: SQLInputValue[], tags: string[]): void {
  for (const tag of new Set(tags)) {
    where.push("EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?)");
    args.push(tag);
  }
}

/** A LIKE pattern matching `text` anywhere, with `\` as the escape. */
export function likeAnywhere(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Adds every part of `filter` to a WHERE list. */
export function addJobFilter(where: string[], args: SQLInputValue[], filter: JobFilter): void {
  if (filter.state !== undefined) {
    where.push("state = ?");
    args.push(filter.state);
  }
  if (filter.queue !== undefined) {
    where.push("queue = ?");
    args.push(filter.queue);
  }
  if (filter.tags?.length) addTagsFilter(where, args, filter.tags);
  if (filter.createdBefore !== undefined) {
    where.push("created_at < ?");
    args.push(filter.createdBefore);
  }
  if (filter.commandLike !== undefined && filter.commandLike !== "") {
    where.push("command LIKE ? ESCAPE '\\'");
    args.push(likeAnywhere(filter.commandLike));
  }
}
