/**
 * The supervisor parts' one re-entrancy rule, in one place: a task that
 * never overlaps itself, and that runs once more when asked during a run
 * (that run may have begun before whatever prompted the ask).
 */

/**
 * Wraps `run` so calls never overlap: a call while it runs asks for one
 * more run right after (several such calls still make one). Returns the
 * promise of the run in progress. `run` must not throw (each part reports
 * its own errors); a throw ends the loop and rejects the returned promise.
 */
export function oneAtATime(
  run: () => Promise<void>,
): { (): Promise<void>; readonly busy: boolean } {
  let current: Promise<void> | null = null;
  let again = false;
  const call = () => {
    if (current) {
      again = true;
      return current;
    }
    current = (async () => {
      try {
        do {
          again = false;
          await run();
        } while (again);
      } finally {
        current = null;
      }
    })();
    return current;
  };
  return Object.defineProperty(call, "busy", { get: () => current !== null }) as
    & (() => Promise<void>)
    & { readonly busy: boolean };
}
