/** A time said relative to now, as the CLI and the dashboard show it. */

/** "in 3 s", "2 min ago": a time relative to `now`. */
export function relativeTime(iso: string, now: number): string {
  const delta = Date.parse(iso) - now;
  const abs = Math.abs(delta);
  const amount = abs < 1000
    ? `${abs} ms`
    : abs < 120_000
    ? `${Math.round(abs / 1000)} s`
    : abs < 7_200_000
    ? `${Math.round(abs / 60_000)} min`
    : `${Math.round(abs / 3_600_000)} h`;
  return delta >= 0 ? `in ${amount}` : `${amount} ago`;
}
