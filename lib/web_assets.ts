// The web client's files (web/), read into memory once at start-up and served as they are: no
// build step. Only the files directly in the directory, with a known type, are served.

/** Content types of the files the web client is made of. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};

/** The largest file served; a bigger one is a mistake in web/, refused at start-up. */
const MAX_ASSET_BYTES = 1024 * 1024;

export interface WebAsset {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
}

/** The web client's files by URL path ("/" is index.html). */
export type WebAssets = ReadonlyMap<string, WebAsset>;

/** The web client in the repository, beside lib/. */
export const WEB_ROOT = new URL("../web/", import.meta.url);

/** Reads the files of `root` (a directory URL); throws if one is larger than 1 MiB. */
export async function loadWebAssets(root: URL = WEB_ROOT): Promise<WebAssets> {
  const assets = new Map<string, WebAsset>();
  for await (const entry of Deno.readDir(root)) {
    const extension = entry.name.slice(entry.name.lastIndexOf("."));
    const contentType = CONTENT_TYPES[extension];
    if (!entry.isFile || contentType === undefined) continue;
    const body = await Deno.readFile(new URL(entry.name, root));
    if (body.length > MAX_ASSET_BYTES) {
      throw new RangeError(`Cannot serve web/${entry.name}: larger than ${MAX_ASSET_BYTES} bytes`);
    }
    assets.set(`/${entry.name}`, { body, contentType });
  }
  const index = assets.get("/index.html");
  if (index) assets.set("/", index);
  return assets;
}
