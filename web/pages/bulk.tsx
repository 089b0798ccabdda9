/**
 * The filter bar's actions on the jobs and DLQ pages (README "Operating a
 * queue"): how many jobs the filter matches, and "retry / cancel / delete
 * all matching", "hold", "release", each confirmed with its count first
 * (`assets/app.js` asks; without script, {@linkcode confirmBulk} is a page).
 */
// deno-lint-ignore-file jsx-key -- rendered once to a string on the server.
import type { BulkAction } from "../../lib/state.ts";
import { htmlDocument } from "./layout.tsx";
import { MessagePage } from "./message.tsx";

/** The filter as the bar's fields name it, carried by every action's form. */
export type BulkFields = [string, string][];

/** What the bar shows: the count each action would change now. */
export interface BulkData {
  /** Jobs matching the filter, in any state. */
  matching: number;
  counts: Partial<Record<BulkAction, number>>;
  fields: BulkFields;
  back: string;
}

const LABELS: Record<BulkAction, string> = {
  retry: "Retry all matching",
  cancel: "Cancel all matching",
  delete: "Delete all matching",
  hold: "Hold",
  release: "Release",
};

const KIND: Record<BulkAction, string> = {
  retry: "primary",
  cancel: "danger",
  delete: "danger",
  hold: "",
  release: "",
};

/** A question naming the count: `Cancel 1200 matching jobs?`. */
export function confirmText(action: BulkAction, count: number): string {
  const verb = action[0]!.toUpperCase() + action.slice(1);
  return `${verb} ${count} matching job${count === 1 ? "" : "s"}?`;
}

/** The bar: the matching count and one button per action that would change something. */
export function BulkBar(props: BulkData) {
  const actions = Object.keys(props.counts) as BulkAction[];
  return (
    <div class="bulk" data-bulk>
      <span class="bulk-count">
        <strong data-matching>{props.matching}</strong> job{props.matching === 1 ? "" : "s"}{" "}
        match this filter
      </span>
      {actions.map((action) => {
        const count = props.counts[action] ?? 0;
        return (
          <form
            method="post"
            action={`/api/jobs/bulk/${action}`}
            class="inline"
            data-async
            data-confirm={confirmText(action, count)}
          >
            {props.fields.map(([name, value]) => <input type="hidden" name={name} value={value} />)}
            <input type="hidden" name="return" value={props.back} />
            <button
              type="submit"
              class={KIND[action]}
              disabled={count === 0}
              data-action={action}
            >
              {`${LABELS[action]} (${count})`}
            </button>
          </form>
        );
      })}
    </div>
  );
}

/** The confirmation page of a plain form (no script): the count, and the form again. */
export function confirmBulk(
  props: { action: BulkAction; count: number; input: Record<string, unknown> },
): Promise<string> {
  const fields = Object.entries(props.input).flatMap(([name, value]) =>
    name === "confirmed" ? [] : [value].flat().map((v) => [name, String(v)] as [string, string])
  );
  const back = [props.input.return].flat()[0];
  return htmlDocument(
    <MessagePage title={confirmText(props.action, props.count)}>
      <form method="post" action={`/api/jobs/bulk/${props.action}`}>
        {fields.map(([name, value]) => <input type="hidden" name={name} value={value} />)}
        <input type="hidden" name="confirmed" value="1" />
        <button type="submit">{`Yes, ${props.action} ${props.count} jobs`}</button>{" "}
        <a href={typeof back === "string" && back.startsWith("/") ? back : "/jobs"}>No, go back</a>
      </form>
    </MessagePage>,
  );
}
