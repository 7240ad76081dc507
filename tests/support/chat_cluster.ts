// A chat cluster of real processes for end-to-end tests: server.ts nodes on fixed free ports
// (so a killed node can come back where nginx expects it) behind a private nginx balancer.

import { type NginxProcess, startNginx } from "./nginx.ts";
import { type ServerProcess, startServer } from "./server_process.ts";
import { freePort } from "./services.ts";

export interface ChatClusterOptions {
  /** --db of every node. */
  db: string;
  /** --redis of every node (or give `redisCluster`). */
  redis?: string;
  /** --redis-cluster of every node: "host:port,host:port...". */
  redisCluster?: string;
  /** --redis-prefix, unique per test. */
  redisPrefix: string;
  nodeIds: string[];
  /** More server flags, e.g. ["--log-level", "warn"]. */
  args?: string[];
}

export class ChatCluster {
  readonly #options: ChatClusterOptions;
  readonly ports = new Map<string, number>();
  readonly servers = new Map<string, ServerProcess>();
  /** stderr of every node's earlier lives (killed or stopped), for failure reports. */
  readonly #pastLogs: string[] = [];
  #nginx: NginxProcess | undefined;

  private constructor(options: ChatClusterOptions) {
    this.#options = options;
  }

  /** Starts every node, then nginx in front of them. */
  static async start(options: ChatClusterOptions): Promise<ChatCluster> {
    const cluster = new ChatCluster(options);
    try {
      for (const nodeId of options.nodeIds) {
        cluster.ports.set(nodeId, freePort());
        await cluster.restart(nodeId);
      }
      cluster.#nginx = await startNginx([...cluster.ports.values()]);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The port clients connect to (nginx). */
  get port(): number {
    if (!this.#nginx) throw new Error("Cannot read port: nginx is not running");
    return this.#nginx.port;
  }

  /** Kills the node at once (SIGKILL), as a crash would. */
  async kill(nodeId: string): Promise<void> {
    const server = this.servers.get(nodeId);
    if (!server) return;
    this.servers.delete(nodeId);
    await server.stop("SIGKILL");
    this.#pastLogs.push(`--- ${nodeId} (killed) ---\n${server.stderr()}`);
  }

  /** Starts the node (again) on its port with the same id. */
  async restart(nodeId: string): Promise<ServerProcess> {
    const { db, redis, redisCluster, redisPrefix, args = [] } = this.#options;
    const server = await startServer([
      "--db",
      db,
      ...(redisCluster ? ["--redis-cluster", redisCluster] : ["--redis", redis ?? ""]),
      "--redis-prefix",
      redisPrefix,
      "--node-id",
      nodeId,
      "--port",
      String(this.ports.get(nodeId)),
      ...args,
    ]);
    this.servers.set(nodeId, server);
    return server;
  }

  /** Every node's stderr so far, earlier lives included. */
  logs(): string {
    const live = [...this.servers].map(([id, server]) => `--- ${id} ---\n${server.stderr()}`);
    return [...this.#pastLogs, ...live].join("\n");
  }

  /**
   * Stops nginx, then every node gracefully (so its presence leaves the shared Redis), killing
   * any that takes longer than 10 s.
   */
  async stop(): Promise<void> {
    await this.#nginx?.stop();
    this.#nginx = undefined;
    await Promise.all([...this.servers].map(async ([nodeId, server]) => {
      this.servers.delete(nodeId);
      const timer = setTimeout(() => server.process.kill("SIGKILL"), 10_000);
      await server.stop("SIGTERM");
      clearTimeout(timer);
    }));
  }
}
