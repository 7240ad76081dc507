// The HTTP transport: one Deno.serve (HTTPS with a certificate) that serves the web client at /
// and upgrades /ws to a WebSocket, whose connection it hands to the chat core with its stream
// of requests (lib/ws_connection.ts). A handshake from another site's page is refused
// (lib/origin_policy.ts). Stops accepting when its signal aborts.

import type { ChatCore } from "./core.ts";
import type { Logger } from "./log.ts";
import type { ServerMetrics } from "./metrics.ts";
import { originAllowed } from "./origin_policy.ts";
import type { WebAssets } from "./web_assets.ts";
import { WebSocketConnection } from "./ws_connection.ts";

export interface HttpTransportOptions {
  hostname: string;
  port: number;
  maxFrame: number;
  log: Logger;
  /** The web client's files, by path. */
  assets: WebAssets;
  /** Origins besides this server's own whose pages may open a WebSocket. */
  allowedOrigins: readonly string[];
  /** PEM certificate and key: serve HTTPS and WSS. Plain HTTP without them. */
  tls?: { cert: string; key: string };
  /** Requests per second per connection, on average (bursts of twice that). Default 200. */
  requestRate?: number;
  metrics?: ServerMetrics;
  nextConnectionId: () => number;
  signal: AbortSignal;
}

/** What the pages may load and connect to: this server only. */
const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

export class HttpTransport {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  /** Listens at once; throws (AddrInUse, say) if it cannot. */
  constructor(core: ChatCore, options: HttpTransportOptions) {
    const handler = (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) =>
      this.#handle(core, options, request, info);
    const { hostname, port, signal, tls } = options;
    this.#server = Deno.serve({ hostname, port, signal, onListen: () => {}, ...tls }, handler);
  }

  /** The port the transport listens on (useful with port 0). */
  get port(): number {
    return this.#server.addr.port;
  }

  /** Resolves when the server has stopped (after the signal aborted and requests finished). */
  get finished(): Promise<void> {
    return this.#server.finished;
  }

  #handle(
    core: ChatCore,
    options: HttpTransportOptions,
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response {
    const { pathname } = new URL(request.url);
    if (pathname === "/ws") return this.#upgrade(core, options, request, info);
    const asset = options.assets.get(pathname);
    if (!asset) return plain(404, "not found");
    if (request.method !== "GET" && request.method !== "HEAD") {
      return plain(405, "method not allowed", { allow: "GET, HEAD" });
    }
    return new Response(request.method === "HEAD" ? null : asset.body, {
      headers: { "content-type": asset.contentType, ...SECURITY_HEADERS },
    });
  }

  #upgrade(
    core: ChatCore,
    options: HttpTransportOptions,
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return plain(426, "this endpoint speaks WebSocket", { upgrade: "websocket" });
    }
    const origin = request.headers.get("origin");
    if (!originAllowed(origin, request.headers.get("host"), options.allowedOrigins)) {
      options.log.info("WebSocket refused: origin not allowed", { origin });
      return plain(403, "origin not allowed");
    }
    // Read before the upgrade: the request is gone after it.
    const remote = clientAddress(request, info.remoteAddr);
    // Idle connections are the core's to close (--idle-timeout), as on TCP.
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 0 });
    const connection = new WebSocketConnection(
      options.nextConnectionId(),
      socket,
      remote,
      {
        maxFrame: options.maxFrame,
        requestRate: options.requestRate,
        requestBurst: options.requestRate === undefined ? undefined : options.requestRate * 2,
        metrics: options.metrics,
      },
    );
    socket.addEventListener("open", () => void core.serve(connection, connection.requests()), {
      once: true,
    });
    return response;
  }
}

/**
 * Where the client is. Behind a proxy on this machine (nginx: a loopback peer), the address the
 * proxy appended to X-Forwarded-For; a remote peer's header is not trusted.
 */
export function clientAddress(
  request: Request,
  peer: Deno.NetAddr,
): { host: string; address: string } {
  const forwarded = request.headers.get("x-forwarded-for")?.split(",").at(-1)?.trim();
  if (forwarded && isLoopback(peer.hostname)) return { host: forwarded, address: forwarded };
  return { host: peer.hostname, address: `${peer.hostname}:${peer.port}` };
}

function isLoopback(host: string): boolean {
  return host === "::1" || host.startsWith("127.") || host === "::ffff:127.0.0.1";
}

function plain(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}
