/** `Deno.serve` wiring of the dashboard, and nothing else: bind, map bind errors, shut down. */
import { errorMessage, UsageError } from "../lib/errors.ts";
import { urlHost } from "./auth.ts";

/** A listening dashboard server. */
export interface DashboardServer {
  /** The address actually bound (the real port when 0 was asked for). */
  addr: Deno.NetAddr;
  /** Stops accepting, lets open requests finish, and resolves when the server is closed. */
  shutdown(): Promise<void>;
  /** Resolves when the server has closed. */
  finished: Promise<void>;
}

/**
 * Binds `hostname:port` and serves the handler `makeHandler` builds for the
 * bound address. A port in use (or not allowed) is a {@linkcode UsageError},
 * so the command exits 2 with one clear line.
 */
export function serveDashboard(
  options: {
    hostname: string;
    port: number;
    makeHandler: (addr: Deno.NetAddr) => (request: Request) => Response | Promise<Response>;
  },
): DashboardServer {
  const hostname = options.hostname.replace(/^\[(.*)\]$/, "$1");
  const where = `${urlHost(hostname)}:${options.port}`;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port: options.port,
      onListen: () => {},
      onError: (error) => {
        console.error(`dashboard: ${errorMessage(error)}`);
        return new Response("Internal error", { status: 500 });
      },
    }, (request) => handler(request));
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UsageError(
        `Cannot serve the dashboard: port ${options.port} is already in use on ${
          urlHost(hostname)
        }`,
        "stop the program using it or pass --port with a free port",
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new UsageError(
        `Cannot serve the dashboard on ${where}: permission denied`,
        "use a port above 1023",
      );
    }
    throw new UsageError(
      `Cannot serve the dashboard on ${where}: ${errorMessage(error)}`,
      "check --host and --port",
    );
  }
  const handler = options.makeHandler(server.addr);
  return {
    addr: server.addr,
    shutdown: () => server.shutdown(),
    finished: server.finished,
  };
}
