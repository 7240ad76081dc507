// Decides whether tests that need MariaDB, Redis or nginx can run. On a developer's laptop a
// missing service skips those tests with a loud message; with CI=true a missing service fails.

const inCI = Deno.env.get("CI") === "true";

/**
 * Returns true when `probe` says the service is there. When it is not: in CI, throws (so the
 * suite fails); elsewhere, prints a loud warning and returns false (callers then `ignore`).
 */
export async function serviceAvailable(name: string, probe: () => Promise<boolean>) {
  let ok = false;
  let detail = "";
  try {
    ok = await probe();
  } catch (error) {
    detail = error instanceof Error ? error.message : String(error);
  }
  if (ok) return true;
  const message = `${name} is not available${detail ? ` (${detail})` : ""}`;
  if (inCI) throw new Error(`${message}; CI=true requires it`);
  console.warn(`\n!!! SKIPPING tests that need ${message} !!!\n`);
  return false;
}

/** True when something accepts TCP connections at host:port. */
export async function tcpOpen(host: string, port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: host, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** A port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
