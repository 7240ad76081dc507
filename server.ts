// chatserver entry point: parse configuration, open the store and cluster backends, serve (and,
// with --metrics-port, the /metrics and /healthz HTTP endpoints) until SIGINT/SIGTERM, then drain
// and exit 0. Failures are one line on stderr and a non-zero exit.

import denoConfig from "./deno.json" with { type: "json" };
import { backendHealth, serveAdmin } from "./lib/admin_http.ts";
import { openCluster } from "./lib/cluster/open.ts";
import { ConfigError, parseServerArgs, type ServerConfig, usage } from "./lib/config.ts";
import { ChatError, StorageError } from "./lib/errors.ts";
import { createLogger } from "./lib/log.ts";
import type { PrometheusMetrics } from "./lib/metrics.ts";
import { scryptHasher } from "./lib/password.ts";
import { redactUrl } from "./lib/redact.ts";
import { ChatServer, type TlsFiles } from "./lib/server.ts";
import { openStore } from "./lib/store/open.ts";

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function fail(message: string, code: number): never {
  console.error(`chatserver: ${message}`);
  Deno.exit(code);
}

async function run(config: ServerConfig): Promise<void> {
  const log = createLogger({ level: config.logLevel, format: config.logFormat }).with({
    node: config.nodeId,
  });
  const tls = config.tls && await readTlsFiles(config.tls);
  const store = await openStore(config.db, config.pendingCap, log);
  let cluster;
  try {
    cluster = await openCluster(config, log);
  } catch (error) {
    await store.close();
    throw error;
  }
  const metrics = config.metricsPort === null ? undefined : await openMetrics(config.nodeId);
  const server = new ChatServer({
    hostname: config.host,
    port: config.port,
    maxFrame: config.maxFrame,
    idleTimeoutMs: config.idleTimeoutSeconds * 1000,
    requestRate: config.rateLimit,
    tokenTtlMs: config.tokenTtlDays * 86_400_000,
    registerLimit: config.registerLimit,
    maxConnections: config.maxConnections,
    loginTimeoutMs: config.loginTimeoutSeconds * 1000,
    tls: tls ?? undefined,
    store,
    ...cluster,
    passwords: scryptHasher(),
    log,
    metrics,
    httpPort: config.httpPort ?? undefined,
    httpOrigins: config.httpOrigins,
  });
  let admin: Deno.HttpServer<Deno.NetAddr> | undefined;
  try {
    await listening(config.host, config.port, () => server.start(), "", tls !== null);
    if (metrics && config.metricsPort !== null) {
      metrics.track({
        connections: () => server.connectionCount,
        usersLoggedIn: () => server.deps.sessions.size,
      });
      const { metricsHost: hostname, metricsPort: port } = config;
      const health = backendHealth({ store, presence: cluster.presence });
      admin = await listening(
        hostname,
        port,
        () => serveAdmin({ hostname, port, metrics, health }),
        " (metrics)",
      );
    }
  } catch (error) {
    await server.shutdown();
    throw error;
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) Deno.exit(EXIT_FAILURE);
    stopping = true;
    log.info("shutting down", { signal, connections: server.connectionCount });
    await admin?.shutdown();
    await server.shutdown();
    log.info("stopped");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
  if (config.tls) {
    const files = config.tls;
    Deno.addSignalListener("SIGHUP", async () => {
      try {
        await server.reloadTls(await readTlsFiles(files));
        log.info("TLS certificate reloaded", { cert: files.certFile });
      } catch (error) {
        log.error("TLS certificate not reloaded; still serving the previous one", {
          cert: files.certFile,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    });
  }
  // The banner comes last: whoever waits for it may signal the server at once.
  console.log(
    `chatserver ${denoConfig.version} listening on ${config.host}:${server.port}` +
      ` node=${config.nodeId} store=${store.description}` +
      ` cluster=${clusterDescription(config)}` +
      (server.tls ? " tls=on" : "") +
      (server.httpPort === null
        ? ""
        : ` http=${server.tls ? "https" : "http"}://${hostPort(config.host, server.httpPort)}/`) +
      (admin ? ` metrics=http://${hostPort(config.metricsHost, admin.addr.port)}/metrics` : ""),
  );
}

function clusterDescription({ redis, redisCluster }: ServerConfig): string {
  if (redisCluster) {
    return `redis-cluster:${redisCluster.map(({ host, port }) => hostPort(host, port)).join(",")}`;
  }
  return redis === null ? "none (single server)" : redactUrl(redis);
}

/** The metrics registry; prom-client is loaded only when metrics are on. */
async function openMetrics(nodeId: string): Promise<PrometheusMetrics> {
  const { PrometheusMetrics } = await import("./lib/metrics.ts");
  return new PrometheusMetrics({ version: denoConfig.version, node: nodeId });
}

/** Runs `listen`, turning a taken address (or an unusable certificate) into one clear line. */
async function listening<T>(
  host: string,
  port: number,
  listen: () => T | Promise<T>,
  purpose = "",
  tls = false,
): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new ChatError(9, `cannot listen on ${hostPort(host, port)}${purpose}: address in use`);
    }
    if (tls && !(error instanceof ChatError)) {
      const reason = (error instanceof Error ? error.message : String(error)).split("\n")[0];
      throw new ChatError(9, `cannot use --tls-cert/--tls-key: ${reason}`);
    }
    throw error;
  }
}

/** The PEM text of the certificate chain and key; one clear line when a file cannot be read. */
async function readTlsFiles(files: { certFile: string; keyFile: string }): Promise<TlsFiles> {
  const read = async (path: string, flag: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "no such file"
        : error instanceof Error
        ? error.message
        : String(error);
      throw new ChatError(9, `cannot read ${flag} ${path}: ${reason}`);
    }
  };
  return {
    cert: await read(files.certFile, "--tls-cert"),
    key: await read(files.keyFile, "--tls-key"),
  };
}

/** host:port, with an IPv6 host in brackets. */
function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

async function main(): Promise<void> {
  let command;
  try {
    command = parseServerArgs(Deno.args, (name) => Deno.env.get(name), () => Deno.hostname());
  } catch (error) {
    if (error instanceof ConfigError) fail(`${error.message} (see --help)`, EXIT_USAGE);
    throw error;
  }
  if (command.kind === "help") return console.log(usage());
  if (command.kind === "version") return console.log(`chatserver ${denoConfig.version}`);
  try {
    await run(command.config);
  } catch (error) {
    if (error instanceof StorageError) fail(error.detail, EXIT_FAILURE);
    fail(error instanceof Error ? error.message : String(error), EXIT_FAILURE);
  }
}

await main();
