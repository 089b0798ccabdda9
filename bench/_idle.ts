/**
 * A Deno process that does nothing until killed (at most 10 minutes): the
 * baseline for the idle CPU and RSS of a worker process.
 */
await new Promise((resolve) => setTimeout(resolve, 600_000));
