// Server configuration from command-line flags and CHAT_* environment variables (flags win).
// Invalid values raise ConfigError, which server.ts prints as one line before exiting with 2.

import { parseArgs } from "node:util";
import { parseOrigin } from "./origin_policy.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./log.ts";
import { DEFAULT_MAX_FRAME } from "./protocol.ts";
import { redactUrl } from "./redact.ts";
import { DEFAULT_REGISTER_LIMIT } from "./registration_limit.ts";
import { DEFAULT_PENDING_CAP } from "./store/types.ts";

export interface ServerConfig {
  port: number;
  host: string;
  db: string;
  redis: string | null;
  /** Seed nodes of a Redis Cluster (exclusive with `redis`); null without one. */
  redisCluster: ClusterSeed[] | null;
  redisPrefix: string;
  nodeId: string;
  maxFrame: number;
  idleTimeoutSeconds: number;
  rateLimit: number;
  pendingCap: number;
  /** Days a session token stays valid without being used. */
  tokenTtlDays: number;
  /** Accounts one source address may register per hour; 0: no limit. */
  registerLimit: number;
  /** Most connections at once; past it ERROR errno 7 and close. */
  maxConnections: number;
  /** Seconds a connection has to log in; 0: forever. */
  loginTimeoutSeconds: number;
  /** PEM files of the chat port's certificate chain and key; null: plain TCP. */
  tls: { certFile: string; keyFile: string } | null;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Port of the HTTP /metrics and /healthz endpoints; null turns them off. */
  metricsPort: number | null;
  metricsHost: string;
  /** Port of the web client and WebSocket endpoint; null turns them off. */
  httpPort: number | null;
  /** Origins besides the server's own whose pages may open a WebSocket. */
  httpOrigins: string[];
}

/** A Redis Cluster node given by --redis-cluster. */
export interface ClusterSeed {
  host: string;
  port: number;
}

export type ServerCommand =
  | { kind: "run"; config: ServerConfig }
  | { kind: "help" }
  | { kind: "version" };

export class ConfigError extends Error {
  override name = "ConfigError";
}

interface FlagSpec {
  flag: string;
  env: string;
  fallback: string;
  help: string;
}

/** File descriptors kept free of connections: store, Redis, metrics, listeners, files. */
export const RESERVED_FILES = 64;

/** Every setting, its environment variable and default. */
export const SETTINGS: readonly FlagSpec[] = [
  { flag: "port", env: "CHAT_PORT", fallback: "6000", help: "TCP port (also the first argument)" },
  { flag: "host", env: "CHAT_HOST", fallback: "0.0.0.0", help: "address to listen on" },
  {
    flag: "db",
    env: "CHAT_DB",
    fallback: "sqlite:./chat.db",
    help: "store: sqlite:PATH, sqlite::memory: or mysql://user:pass@host:port/db",
  },
  {
    flag: "redis",
    env: "CHAT_REDIS",
    fallback: "",
    help: "redis://host:port to join a cluster (none: single server)",
  },
  {
    flag: "redis-cluster",
    env: "CHAT_REDIS_CLUSTER",
    fallback: "",
    help: "host:port[,host:port...] of a Redis Cluster to join instead of --redis",
  },
  {
    flag: "redis-prefix",
    env: "CHAT_REDIS_PREFIX",
    fallback: "chat:",
    help: "prefix of this cluster's Redis keys and channels",
  },
  {
    flag: "node-id",
    env: "CHAT_NODE_ID",
    fallback: "",
    help: "this server's cluster id (default host:port)",
  },
  {
    flag: "max-frame",
    env: "CHAT_MAX_FRAME",
    fallback: String(DEFAULT_MAX_FRAME),
    help: "largest accepted frame body, bytes",
  },
  {
    flag: "idle-timeout",
    env: "CHAT_IDLE_TIMEOUT",
    fallback: "90",
    help: "close connections silent this long, seconds (0: never)",
  },
  {
    flag: "rate-limit",
    env: "CHAT_RATE_LIMIT",
    fallback: "200",
    help: "requests per second per connection (bursts of twice that)",
  },
  {
    flag: "pending-cap",
    env: "CHAT_PENDING_CAP",
    fallback: String(DEFAULT_PENDING_CAP),
    help: "most unacknowledged messages kept per user; older ones are dropped and counted",
  },
  {
    flag: "token-ttl",
    env: "CHAT_TOKEN_TTL",
    fallback: "30",
    help: "days a session token stays valid without being used",
  },
  {
    flag: "register-limit",
    env: "CHAT_REGISTER_LIMIT",
    fallback: String(DEFAULT_REGISTER_LIMIT),
    help: "accounts one source address may register per hour (0: no limit)",
  },
  {
    flag: "max-connections",
    env: "CHAT_MAX_CONNECTIONS",
    fallback: "",
    help: `most connections at once (default: the open-files limit less ${RESERVED_FILES})`,
  },
  {
    flag: "login-timeout",
    env: "CHAT_LOGIN_TIMEOUT",
    fallback: "30",
    help: "close connections not logged in after this long, seconds (0: never)",
  },
  {
    flag: "tls-cert",
    env: "CHAT_TLS_CERT",
    fallback: "",
    help: "PEM certificate chain: the chat port speaks TLS only (with --tls-key)",
  },
  {
    flag: "tls-key",
    env: "CHAT_TLS_KEY",
    fallback: "",
    help: "PEM private key of --tls-cert",
  },
  { flag: "log-level", env: "CHAT_LOG_LEVEL", fallback: "info", help: LOG_LEVELS.join("|") },
  { flag: "log-format", env: "CHAT_LOG_FORMAT", fallback: "pretty", help: LOG_FORMATS.join("|") },
  {
    flag: "metrics-port",
    env: "CHAT_METRICS_PORT",
    fallback: "",
    help: "serve HTTP /metrics and /healthz on this port (none: off)",
  },
  {
    flag: "metrics-host",
    env: "CHAT_METRICS_HOST",
    fallback: "127.0.0.1",
    help: "address of the /metrics and /healthz HTTP server",
  },
  {
    flag: "http-port",
    env: "CHAT_HTTP_PORT",
    fallback: "",
    help: "serve the web client at / and WebSocket at /ws on this port, on --host (none: off)",
  },
  {
    flag: "http-origins",
    env: "CHAT_HTTP_ORIGINS",
    fallback: "",
    help: "comma-separated origins (https://chat.example.com) whose pages may use /ws, " +
      "besides the server's own",
  },
];

export function usage(): string {
  const flagWidth = Math.max(...SETTINGS.map((s) => s.flag.length)) + 2;
  const envWidth = Math.max(...SETTINGS.map((s) => s.env.length));
  const row = (flag: string, env: string, meaning: string) =>
    `  ${flag.padEnd(flagWidth)}  ${env.padEnd(envWidth)}  ${meaning}`;
  return [
    "Usage: chatserver [port] [options]",
    "",
    row("flag", "environment", "meaning [default]"),
    ...SETTINGS.map((s) =>
      row(`--${s.flag}`, s.env, s.fallback ? `${s.help} [${s.fallback}]` : s.help)
    ),
    row("--help", "", "show this help"),
    row("--version", "", "print the version"),
  ].join("\n");
}

export function parseServerArgs(
  args: string[],
  env: (name: string) => string | undefined,
  hostname: () => string,
  pid: () => number = () => Deno.pid,
  openFilesLimit: () => number | null = readOpenFilesLimit,
): ServerCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: "string" as const }])),
        help: { type: "boolean" },
        version: { type: "boolean" },
      },
    });
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  if (positionals.length > 1) throw new ConfigError(`unexpected argument '${positionals[1]}'`);

  const setting = (flag: string): string => {
    const spec = SETTINGS.find((s) => s.flag === flag)!;
    const fromFlag = (values as Record<string, string | boolean | undefined>)[flag];
    if (typeof fromFlag === "string") return fromFlag;
    if (flag === "port" && positionals[0] !== undefined) return positionals[0];
    return env(spec.env) ?? spec.fallback;
  };

  const port = integerSetting("port", setting("port"), 0, 65535);
  const host = setting("host");
  const redis = setting("redis") || null;
  const redisCluster = setting("redis-cluster") || null;
  if (redis !== null && redisCluster !== null) {
    throw new ConfigError("--redis and --redis-cluster exclude each other: give one");
  }
  const metricsPort = setting("metrics-port");
  const maxConnections = setting("max-connections");
  const [certFile, keyFile] = [setting("tls-cert"), setting("tls-key")];
  if ((certFile === "") !== (keyFile === "")) {
    throw new ConfigError("--tls-cert and --tls-key go together: give both or neither");
  }
  const httpPort = setting("http-port");
  return {
    kind: "run",
    config: {
      port,
      host,
      db: storeUrl(setting("db")),
      redis: redis === null ? null : redisUrl(redis),
      redisCluster: redisCluster === null ? null : clusterSeeds(redisCluster),
      redisPrefix: setting("redis-prefix"),
      nodeId: setting("node-id") || `${hostname()}:${port === 0 ? `pid${pid()}` : port}`,
      maxFrame: integerSetting("max-frame", setting("max-frame"), 1, 64 * 1024 * 1024),
      idleTimeoutSeconds: integerSetting("idle-timeout", setting("idle-timeout"), 0, 86_400),
      rateLimit: integerSetting("rate-limit", setting("rate-limit"), 1, 1_000_000),
      pendingCap: integerSetting("pending-cap", setting("pending-cap"), 1, 1_000_000),
      tokenTtlDays: integerSetting("token-ttl", setting("token-ttl"), 1, 3650),
      registerLimit: integerSetting("register-limit", setting("register-limit"), 0, 1_000_000),
      maxConnections: maxConnections === ""
        ? defaultMaxConnections(openFilesLimit())
        : integerSetting("max-connections", maxConnections, 1, 10_000_000),
      loginTimeoutSeconds: integerSetting("login-timeout", setting("login-timeout"), 0, 86_400),
      tls: certFile === "" ? null : { certFile, keyFile },
      logLevel: choice("log-level", setting("log-level"), LOG_LEVELS),
      logFormat: choice("log-format", setting("log-format"), LOG_FORMATS),
      metricsPort: metricsPort === ""
        ? null
        : integerSetting("metrics-port", metricsPort, 0, 65535),
      metricsHost: setting("metrics-host"),
      httpPort: httpPort === "" ? null : integerSetting("http-port", httpPort, 0, 65535),
      httpOrigins: origins(setting("http-origins")),
    },
  };
}

function integerSetting(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new ConfigError(`invalid --${name} '${text}': expected an integer from ${min} to ${max}`);
  }
  return value;
}

function choice<T extends string>(name: string, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw new ConfigError(`invalid --${name} '${text}': expected one of ${allowed.join(", ")}`);
  }
  return text as T;
}

function origins(text: string): string[] {
  const listed = text.split(",").map((item) => item.trim()).filter((item) => item !== "");
  return listed.map((item) => {
    try {
      return parseOrigin(item);
    } catch {
      throw new ConfigError(
        `invalid --http-origins entry '${item}': expected an origin such as https://chat.example.com`,
      );
    }
  });
}

function storeUrl(text: string): string {
  if (/^sqlite:.+/.test(text) || /^mysql:\/\/[^/]+\/\w+$/.test(text)) return text;
  const expected = "sqlite:PATH, sqlite::memory: or mysql://user:pass@host:port/db";
  throw new ConfigError(`invalid --db '${redactUrl(text)}': expected ${expected}`);
}

function redisUrl(text: string): string {
  if (/^rediss?:\/\/[^/]+(\/\d+)?$/.test(text)) return text;
  throw new ConfigError(`invalid --redis '${redactUrl(text)}': expected redis://host:port`);
}

function clusterSeeds(text: string): ClusterSeed[] {
  return text.split(",").map((item) => {
    const match = item.trim().match(/^(?:\[([^\]]+)\]|([^:\s\[\]]+)):(\d+)$/);
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65535) {
      throw new ConfigError(
        `invalid --redis-cluster '${text}': expected host:port[,host:port...], e.g. 10.0.0.1:7000`,
      );
    }
    return { host: match[1] ?? match[2], port };
  });
}

/** The connection limit when the open-files limit cannot be read. */
const FALLBACK_MAX_CONNECTIONS = 10_000;

/** The default --max-connections: what the open-files limit leaves after RESERVED_FILES. */
export function defaultMaxConnections(openFiles: number | null): number {
  if (openFiles === null) return FALLBACK_MAX_CONNECTIONS;
  return Math.max(1, Math.min(10_000_000, openFiles - RESERVED_FILES));
}

/** The process's soft open-files limit (Linux /proc), or null when it cannot be read. */
export function readOpenFilesLimit(): number | null {
  try {
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
    return soft === undefined || soft === "unlimited" ? null : Number(soft);
  } catch {
    return null;
  }
}
