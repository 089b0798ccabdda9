/**
 * The dashboard's static files, read from `web/assets/` beside this module.
 * The path comes from `import.meta.url`, so it works from the source tree
 * and from the binary of `deno task compile` (which embeds `web/assets` with
 * `--include`). Each file is read once and kept.
 */

/** A static file ready to send. */
export interface Asset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
};

/** The files served under `/assets/`; nothing else is ever read. */
export const ASSET_NAMES = [
  "app.css",
  "content.css",
  "narrow.css",
  "app.js",
  "time.js",
  "favicon.svg",
] as const;

const cache = new Map<string, Promise<Asset>>();

async function load(name: string): Promise<Asset> {
  const body = await Deno.readFile(new URL(`./assets/${name}`, import.meta.url));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  const etag = `"${Array.from(hash.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("")}"`;
  return { body, type: TYPES[name.slice(name.lastIndexOf(".") + 1)] ?? "text/plain", etag };
}

/** The asset called `name`, or `null` if there is none by that name. */
export function assetGet(name: string): Promise<Asset> | null {
  if (!(ASSET_NAMES as readonly string[]).includes(name)) return null;
  let asset = cache.get(name);
  if (!asset) {
    asset = load(name);
    asset.catch(() => cache.delete(name));
    cache.set(name, asset);
  }
  return asset;
}
