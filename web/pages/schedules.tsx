/** `/schedules`: every schedule with its next and last run in its zone; pause, resume, run now. */
import type { ScheduleView } from "../../lib/schedule.ts";
import type { Stats } from "../../lib/stats.ts";
import { ActionButton, jobPath } from "./_parts.tsx";
import type { PageView } from "./layout.tsx";

/** What the schedules page shows. */
export interface SchedulesData {
  schedules: ScheduleView[];
  stats: Stats;
}

/** The path of a schedule's API actions. */
export function schedulePath(name: string): string {
  return `/api/schedules/${encodeURIComponent(name)}`;
}

/** A time as the schedule's zone reads it, the UTC instant on hover. */
function ZoneTime(props: { local: string | null; iso: string | null; empty: string }) {
  if (props.local === null) return <span class="muted">{props.empty}</span>;
  return <time datetime={props.iso ?? ""} title={props.iso ?? ""}>{props.local}</time>;
}

/** The live part of the schedules page. */
export function SchedulesLive(props: SchedulesData) {
  const back = "/schedules";
  return (
    <>
      <h1>
        Schedules <span class="muted">({props.schedules.length})</span>
      </h1>
      <p class="muted small">
        Each due time enqueues one job, id{" "}
        <code>&lt;name&gt;@&lt;due time&gt;</code>. Times are shown in each schedule's zone.
        Skipped: due while the previous job was still active.
      </p>
      {props.schedules.length === 0
        ? (
          <p class="empty">
            No schedules. Add one with{" "}
            <code>queuectl schedule add &lt;name&gt; --cron "&lt;expr&gt;" -- &lt;cmd…&gt;</code>.
          </p>
        )
        : (
          <div class="table-wrap">
            <table class="schedules">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Cron</th>
                  <th class="hide-narrow">Zone</th>
                  <th>Next run</th>
                  <th>Last run</th>
                  <th class="num">Skipped</th>
                  <th>Command</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {props.schedules.map((s) => (
                  <tr data-schedule={s.name} data-paused={s.paused ? "yes" : "no"}>
                    <td class="id">{s.name}</td>
                    <td>
                      <code>{s.cron}</code>
                    </td>
                    <td class="hide-narrow">{s.tz}</td>
                    <td class="next">
                      {s.paused
                        ? <span class="badge state-cancelled">paused</span>
                        : <ZoneTime local={s.next_run_local} iso={s.next_run_at} empty="never" />}
                    </td>
                    <td class="last">
                      <ZoneTime local={s.last_run_local} iso={s.last_run_at} empty="-" />
                      {s.last_job_id
                        ? (
                          <>
                            {" "}
                            <a href={jobPath(s.last_job_id)} class="small">job</a>
                          </>
                        )
                        : ""}
                    </td>
                    <td class="num skipped">{s.skipped}</td>
                    <td class="command">
                      <code title={s.job.command}>{s.job.command}</code>
                    </td>
                    <td class="act">
                      <div class="actions">
                        {s.paused
                          ? (
                            <ActionButton
                              action={`${schedulePath(s.name)}/resume`}
                              label="Resume"
                              back={back}
                              kind="primary"
                            />
                          )
                          : (
                            <ActionButton
                              action={`${schedulePath(s.name)}/pause`}
                              label="Pause"
                              back={back}
                            />
                          )}
                        <ActionButton
                          action={`${schedulePath(s.name)}/run`}
                          label="Run now"
                          back={back}
                        />
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
    </>
  );
}

/** The schedules page. */
export const schedulesPage: PageView<SchedulesData> = {
  title: "Schedules",
  section: "schedules",
  Live: SchedulesLive,
};
