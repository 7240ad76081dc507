// Which web pages may open a WebSocket to this server. A browser sends the page's Origin with
// every WebSocket handshake, so checking it keeps another site from driving a logged-in
// browser; a client that is not a browser sends none and has no such page to fear.

/**
 * True when a handshake from `origin` may proceed: no Origin (not a browser), the page served by
 * this server itself (the Origin's host:port is the request's Host), or an origin listed in
 * `allowed` (exact "scheme://host[:port]" strings, as browsers send them).
 */
export function originAllowed(
  origin: string | null,
  host: string | null,
  allowed: readonly string[],
): boolean {
  if (origin === null) return true;
  if (allowed.includes(origin)) return true;
  if (host === null) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** The origin a setting names, normalised as browsers send it; throws TypeError if it is not one. */
export function parseOrigin(text: string): string {
  const url = new URL(text);
  if (!["http:", "https:"].includes(url.protocol) || url.origin !== text.replace(/\/$/, "")) {
    throw new TypeError(`not an origin: ${text}`);
  }
  return url.origin;
}
