/**
 * The dashboard's access rules as pure helpers: which `Host` and `Origin`
 * headers are ours, how tokens are compared, and the cookie that carries the
 * token in a browser. `access.ts` applies them to every request.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** Whether `host` (a name or an address, IPv6 with or without brackets) is loopback. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Whether `host` means every interface (`0.0.0.0`, `::`). */
export function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1");
  return h === "0.0.0.0" || h === "::";
}

/** A host as it appears in a URL or a `Host` header: IPv6 in brackets. */
export function urlHost(host: string): string {
  const h = host.replace(/^\[(.*)\]$/, "$1");
  return h.includes(":") ? `[${h}]` : h;
}

function interfaceNames(): string[] {
  const names: string[] = [];
  try {
    names.push(Deno.hostname());
  } catch { /* no permission: the addresses below still count */ }
  try {
    for (const iface of Deno.networkInterfaces()) names.push(iface.address);
  } catch { /* no permission */ }
  return names;
}

/**
 * The `Host` header values the dashboard answers to: the bound address,
 * `localhost`, `127.0.0.1` and `[::1]`, with the port (and without it on
 * port 80). Anything else is refused, which defeats DNS rebinding. Bound to
 * every interface, each interface's address and the machine's name count too.
 */
export function allowedHosts(hostname: string, port: number): Set<string> {
  const names = [hostname, "localhost", "127.0.0.1", "::1"];
  if (isWildcardHost(hostname)) names.push(...interfaceNames());
  const hosts = new Set<string>();
  for (const name of names) {
    const h = urlHost(name).toLowerCase();
    hosts.add(`${h}:${port}`);
    if (port === 80) hosts.add(h);
  }
  return hosts;
}

/** Whether an `Origin` header names one of the allowed hosts over http(s). */
export function isAllowedOrigin(origin: string, hosts: Set<string>): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // includes the opaque origin "null"
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  const port = url.port || (url.protocol === "http:" ? "80" : "443");
  return hosts.has(`${url.hostname.toLowerCase()}:${port}`) ||
    (port === "80" && hosts.has(url.hostname.toLowerCase()));
}

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/** Compares a presented token with the real one in constant time (hashing hides the length). */
export function tokenMatches(presented: string | undefined | null, token: string): boolean {
  if (presented === undefined || presented === null) return false;
  return timingSafeEqual(digest(presented), digest(token));
}

/** A new random token: 32 bytes, base64url (43 characters). */
export function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/**
 * The name of the cookie holding the token. Cookies are shared by every port
 * of a host, so the port is part of the name: two dashboards on one machine
 * do not overwrite each other's cookie.
 */
export function tokenCookieName(port: number): string {
  return `queuectl_token_${port}`;
}

/** The token of an `Authorization: Bearer <token>` header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}
