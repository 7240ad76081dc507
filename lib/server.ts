// The chat server: the chat core (lib/core.ts) behind its transports: TCP (plain or TLS), and
// with an HTTP port the web client and WebSocket (HTTPS and WSS with TLS). start() brings the
// core up and listens; shutdown() stops accepting, then closes the core (every session ends,
// the backends close).

import type { Bus, Presence } from "./cluster/types.ts";
import { type ChatCore, createChatCore } from "./core.ts";
import { ChatError, Errno } from "./errors.ts";
import type { ChatDeps, PasswordHasher } from "./handlers/context.ts";
import { HttpTransport } from "./http_transport.ts";
import type { Logger } from "./log.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { Repositories } from "./store/types.ts";
import { TcpTransport } from "./tcp_transport.ts";
import { loadWebAssets, type WebAssets } from "./web_assets.ts";

export interface ChatServerOptions {
  hostname: string;
  port: number;
  maxFrame: number;
  store: Repositories;
  presence: Presence;
  bus: Bus;
  passwords: PasswordHasher;
  log: Logger;
  now?: () => Date;
  readBufferBytes?: number;
  /** Close connections silent for this long, in ms; 0 keeps them forever. Default 90 s. */
  idleTimeoutMs?: number;
  /** Requests per second per connection, on average. Default 200 (bursts of twice that). */
  requestRate?: number;
  /** Where the server reports what it counts; none by default. */
  metrics?: ServerMetrics;
  /** How long an unused session token stays valid, ms. Default 30 days. */
  tokenTtlMs?: number;
  /** Accounts one source address may register per hour; 0: no limit. Default 20. */
  registerLimit?: number;
  /** Most connections at once; past it ERROR errno 7 and close. No limit by default. */
  maxConnections?: number;
  /** Close connections not logged in this long, ms; 0: never. Default 30 s. */
  loginTimeoutMs?: number;
  /** Serve TLS only, with this certificate chain and key (PEM); HTTPS on the HTTP port. */
  tls?: TlsFiles;
  /** Serve the web client and WebSocket on this port; none by default. */
  httpPort?: number;
  /** Origins besides the server's own whose pages may open a WebSocket. None by default. */
  httpOrigins?: readonly string[];
}

/** A certificate chain and its private key, PEM text. */
export interface TlsFiles {
  cert: string;
  key: string;
}

export class ChatServer {
  readonly core: ChatCore;
  readonly #options: ChatServerOptions;
  readonly #stopping = new AbortController();
  /** Stops the current TCP transport alone (a certificate reload replaces it). */
  #tcpStopping = new AbortController();
  /** Stops the HTTP transport, after the core closed (see shutdown()). */
  readonly #httpStopping = new AbortController();
  #tcp: TcpTransport | null = null;
  #http: HttpTransport | null = null;
  #tls: TlsFiles | undefined;
  #lastConnectionId = 0;

  constructor(options: ChatServerOptions) {
    this.#options = options;
    this.#tls = options.tls;
    this.core = createChatCore(options);
  }

  get deps(): ChatDeps {
    return this.core.deps;
  }

  /** The TCP port the server listens on (useful with port 0). */
  get port(): number {
    if (!this.#tcp) throw new Error("Cannot read port: server is not listening");
    return this.#tcp.port;
  }

  /** The HTTP port, if the server has one. */
  get httpPort(): number | null {
    return this.#http?.port ?? null;
  }

  get connectionCount(): number {
    return this.core.connectionCount;
  }

  /** True when the chat port speaks TLS. */
  get tls(): boolean {
    return this.#tls !== undefined;
  }

  /** Starts the core, then listens on each port. */
  async start(): Promise<void> {
    const { httpPort } = this.#options;
    const assets = httpPort === undefined ? null : await loadWebAssets();
    await this.core.start();
    this.#listen(this.#options.port, this.#tls);
    if (assets && httpPort !== undefined) this.#listenHttp(httpPort, assets);
  }

  /**
   * Serves new connections with another certificate (SIGHUP): the listener is replaced, the
   * connections already open keep theirs. The HTTP port keeps the certificate it started with
   * (replacing Deno.serve would close its WebSockets). If the new pair is unusable, the old one stays in use
   * and the error is thrown.
   */
  async reloadTls(files: TlsFiles): Promise<void> {
    if (!this.#tcp || !this.#tls) throw new Error("Cannot reload TLS: the server does not use it");
    const port = this.#tcp.port;
    this.#tcpStopping.abort();
    await this.#tcp.finished;
    try {
      this.#listen(port, files);
      this.#tls = files;
    } catch (error) {
      this.#listen(port, this.#tls);
      throw error;
    }
  }

  /** Stops accepting, ends every session (marking users offline) and closes the backends. */
  async shutdown(): Promise<void> {
    this.#stopping.abort();
    this.#tcpStopping.abort();
    await this.#tcp?.finished;
    // Stopping Deno.serve closes its WebSockets at once: only after the core told them why.
    // Meanwhile the core closes any new connection as soon as it is handed one.
    await this.core.close();
    this.#httpStopping.abort();
    await this.#http?.finished;
  }

  #listen(port: number, tls: TlsFiles | undefined): void {
    const { hostname } = this.#options;
    const listener = tls
      ? Deno.listenTls({ hostname, port, transport: "tcp", cert: tls.cert, key: tls.key })
      : Deno.listen({ hostname, port, transport: "tcp" });
    this.#tcpStopping = new AbortController();
    this.#tcp = new TcpTransport(this.core, listener, {
      ...this.#options,
      nextConnectionId: () => ++this.#lastConnectionId,
      signal: AbortSignal.any([this.#stopping.signal, this.#tcpStopping.signal]),
    });
  }

  #listenHttp(port: number, assets: WebAssets): void {
    const { hostname } = this.#options;
    try {
      this.#http = new HttpTransport(this.core, {
        ...this.#options,
        port,
        assets,
        allowedOrigins: this.#options.httpOrigins ?? [],
        tls: this.#tls,
        nextConnectionId: () => ++this.#lastConnectionId,
        signal: this.#httpStopping.signal,
      });
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
      const where = hostname.includes(":") ? `[${hostname}]` : hostname;
      throw new ChatError(
        Errno.SERVER_ERROR,
        `cannot listen on ${where}:${port} (http): address in use`,
      );
    }
  }
}
