// The chat server: the chat core (lib/core.ts) behind its transports, here TCP. start() brings
// the core up and listens; shutdown() stops accepting, then closes the core (every session
// ends, the backends close).

import type { Bus, Presence } from "./cluster/types.ts";
import { type ChatCore, createChatCore } from "./core.ts";
import type { ChatDeps, PasswordHasher } from "./handlers/context.ts";
import type { Logger } from "./log.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { Repositories } from "./store/types.ts";
import { TcpTransport } from "./tcp_transport.ts";

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
}

export class ChatServer {
  readonly core: ChatCore;
  readonly #options: ChatServerOptions;
  readonly #stopping = new AbortController();
  #tcp: TcpTransport | null = null;
  #lastConnectionId = 0;

  constructor(options: ChatServerOptions) {
    this.#options = options;
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

  get connectionCount(): number {
    return this.core.connectionCount;
  }

  /** Starts the core, then listens. */
  async start(): Promise<void> {
    const { hostname, port } = this.#options;
    await this.core.start();
    const listener = Deno.listen({ hostname, port, transport: "tcp" });
    this.#tcp = new TcpTransport(this.core, listener, {
      ...this.#options,
      nextConnectionId: () => ++this.#lastConnectionId,
      signal: this.#stopping.signal,
    });
  }

  /** Stops accepting, ends every session (marking users offline) and closes the backends. */
  async shutdown(): Promise<void> {
    this.#stopping.abort();
    await this.#tcp?.finished;
    await this.core.close();
  }
}
