/**
 * `/schedules`: every schedule with its next and last run (in the reader's
 * zone, how far off, the schedule's own zone on hover); pause, resume, run
 * now. A card per schedule on a phone.
 */
import type { ScheduleView } from "../../lib/schedule.ts";
import type { Stats } from "../../lib/stats.ts";
import { ActionButton, jobPath, Time, utcText } from "./_parts.tsx";
import type { PageView } from "./layout.tsx";

/** What the schedules page shows. */
export interface SchedulesData {
  schedules: ScheduleView[];
  now: number;
  stats: Stats;
}

/** The path of a schedule's API actions. */
export function schedulePath(name: string): string {
  return `/api/schedules/${encodeURIComponent(name)}`;
}

/** A time in the reader's zone; on hover, as the schedule's zone reads it and in UTC. */
function ZoneTime(
  props: { local: string | null; iso: string | null; tz: string; now: number; empty: string },
) {
  if (props.iso === null) return <span class="muted">{props.empty}</span>;
  const title = `${props.local ?? ""} in ${props.tz} · ${utcText(props.iso)}`;
  return <Time iso={props.iso} now={props.now} title={title} />;
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
        <code>&lt;name&gt;@&lt;due time&gt;</code>. Times are in your browser's zone; hover for the
        schedule's own zone. Skipped: due while the previous job was still active.
      </p>
      {props.schedules.length === 0
        ? (
          <p class="empty">
            No schedules. Add one with{" "}
            <code>queuectl schedule add &lt;name&gt; --cron "&lt;expr&gt;" -- &lt;cmd…&gt;</code>.
          </p>
        )
        : (
          <div class="table-wrap" data-scroll-hint>
            <table class="schedules cards">
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
                    <td class="id name" data-label="Schedule">{s.name}</td>
                    <td class="cron" data-label="cron">
                      <code>{s.cron}</code>
                    </td>
                    <td class="hide-narrow">{s.tz}</td>
                    <td class="next" data-label="next">
                      {s.paused ? <span class="badge state-cancelled">paused</span> : (
                        <ZoneTime
                          local={s.next_run_local}
                          iso={s.next_run_at}
                          tz={s.tz}
                          now={props.now}
                          empty="never"
                        />
                      )}
                    </td>
                    <td class="last" data-label="last">
                      <ZoneTime
                        local={s.last_run_local}
                        iso={s.last_run_at}
                        tz={s.tz}
                        now={props.now}
                        empty="-"
                      />
                      {s.last_job_id
                        ? (
                          <>
                            {" "}
                            <a href={jobPath(s.last_job_id)} class="small">job</a>
                          </>
                        )
                        : ""}
                    </td>
                    <td class="num skipped" data-label="skipped">{s.skipped}</td>
                    <td class="command" data-label="command">
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
