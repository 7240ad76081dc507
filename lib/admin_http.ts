// The operators' HTTP endpoints, served on their own port when --metrics-port is set:
// GET /metrics (Prometheus text format) and GET /healthz (200 "ok" while the store and the
// cluster's presence answer, else 503 with a one-line reason). Anything else is 404. The chat
// core knows nothing of this module.

import type { Presence } from "./cluster/types.ts";
import type { Repositories } from "./store/types.ts";

export interface AdminEndpoints {
  /** The /metrics page. */
  metrics: { readonly contentType: string; render(): Promise<string> };
  /** Resolves null when the server is healthy, else a one-line reason. */
  health(): Promise<string | null>;
}

export interface AdminServerOptions extends AdminEndpoints {
  hostname: string;
  /** 0 picks a free port; the server's `addr` tells which. */
  port: number;
}

/** How long a backend may take to answer a health check, ms. */
export const HEALTH_TIMEOUT_MS = 2000;

/** Answers admin requests; separate from the listener so it is tested without sockets. */
export function adminHandler(endpoints: AdminEndpoints): (request: Request) => Promise<Response> {
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (request.method === "GET" && pathname === "/metrics") {
      const body = await endpoints.metrics.render();
      return new Response(body, { headers: { "content-type": endpoints.metrics.contentType } });
    }
    if (request.method === "GET" && pathname === "/healthz") {
      const problem = await endpoints.health();
      return problem === null ? text(200, "ok") : text(503, problem);
    }
    return text(404, "not found");
  };
}

/** Serves the endpoints over HTTP. Throws Deno.errors.AddrInUse when the port is taken. */
export function serveAdmin(options: AdminServerOptions): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
    handler: adminHandler(options),
  });
}

/**
 * A health check of the backends: null when the store and presence both answer `ping()`
 * within `timeoutMs`, else which of them does not.
 */
export function backendHealth(
  backends: { store: Pick<Repositories, "ping">; presence: Pick<Presence, "ping"> },
  timeoutMs = HEALTH_TIMEOUT_MS,
): () => Promise<string | null> {
  return async () => {
    const [store, presence] = await Promise.all([
      answers(() => backends.store.ping(), timeoutMs),
      answers(() => backends.presence.ping(), timeoutMs),
    ]);
    const problems = [
      ...(store ? [] : ["store"]),
      ...(presence ? [] : ["cluster presence"]),
    ];
    return problems.length === 0 ? null : `not answering: ${problems.join(", ")}`;
  };
}

async function answers(ping: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([ping().catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}
