/**
 * The columns of the operator controls (README "Operating a queue") as the
 * other PostgreSQL modules meet them: tags and `enqueue --hold` written
 * after a batch's insert, and the filters of `list --tag` and of actions by
 * filter. Private to this folder (the twin of `sqlite/_operator_fields.ts`);
 * the actions themselves are in `controls.ts`.
 *
 * Tags and holds are set by one statement each after the insert, in its
 * transaction, and only for a batch that has any: the insert statements
 * stay as they are, and a batch without them pays nothing.
 */
import type { NewJob } from "../../job.ts";
import type { InsertResult, JobFilter } from "../storage.ts";
import { q, type Sql } from "./connection.ts";

const SET_TAGS = `UPDATE jobs SET tags = t.tags
  FROM unnest($1::text[], $2::text[]) AS t(id, tags) WHERE jobs.id = t.id`;

const HOLD_INSERTED = `UPDATE jobs SET held_from = state, state = 'held'
  WHERE id = ANY($1::text[])`;

/** Stores the tags of the jobs just inserted and holds those enqueued with `hold`. */
export async function insertExtras(tx: Sql, jobs: NewJob[], result: InsertResult): Promise<void> {
  const kept = result.kept.length > 0 ? new Set(result.kept.map((k) => k.id)) : null;
  const ids: string[] = [];
  const tags: string[] = [];
  const held: string[] = [];
  for (const job of jobs) {
    if (kept !== null && kept.has(job.id)) continue;
    if (job.tags?.length) {
      ids.push(job.id);
      tags.push(JSON.stringify(job.tags));
    }
    if (job.hold) held.push(job.id);
  }
  if (ids.length > 0) await q(tx, SET_TAGS, [ids, tags]);
  // Held from what it was inserted as (pending or blocked); the count trigger follows.
  if (held.length > 0) await q(tx, HOLD_INSERTED, [held]);
}

/** A placeholder for the next argument: pushes `value`, returns `$n`. */
export type Arg = (value: unknown) => string;

/** "Carries every one of `tags`": JSON array containment. */
export function tagsFilter(tags: string[], arg: Arg): string {
  // The argument is text (then cast): a jsonb parameter would be serialized again as JSON.
  return `tags::jsonb @> ${arg(JSON.stringify([...new Set(tags)]))}::text::jsonb`;
}

/** Every part of `filter` as WHERE terms. */
export function jobFilterSql(filter: JobFilter, arg: Arg): string[] {
  const where: string[] = [];
  if (filter.state !== undefined) where.push(`state = ${arg(filter.state)}`);
  if (filter.queue !== undefined) where.push(`queue = ${arg(filter.queue)}`);
  if (filter.tags?.length) where.push(tagsFilter(filter.tags, arg));
  if (filter.createdBefore !== undefined) {
    where.push(`created_at < ${arg(filter.createdBefore)}::bigint`);
  }
  if (filter.commandLike !== undefined && filter.commandLike !== "") {
    // ILIKE: SQLite's LIKE ignores case too.
    const like = `%${filter.commandLike.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(`command ILIKE ${arg(like)} ESCAPE '\\'`);
  }
  return where;
}
