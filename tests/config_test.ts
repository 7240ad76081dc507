import assert from "node:assert/strict";
import {
  ConfigError,
  defaultMaxConnections,
  parseServerArgs,
  readOpenFilesLimit,
  RESERVED_FILES,
  type ServerConfig,
  SETTINGS,
  usage,
} from "../lib/config.ts";

const noEnv = (_name: string): string | undefined => undefined;
const envOf = (vars: Record<string, string>) => (name: string): string | undefined => vars[name];
const hostname = () => "box";
const noHostname = (): string => {
  throw new Error("hostname must not be needed when --node-id is given");
};

function run(
  args: string[],
  env: (name: string) => string | undefined = noEnv,
  host: () => string = hostname,
): ServerConfig {
  const command = parseServerArgs(args, env, host, undefined, () => 1024);
  assert.equal(command.kind, "run");
  return (command as { kind: "run"; config: ServerConfig }).config;
}

function assertConfigError(
  args: string[],
  message: RegExp,
  env: (name: string) => string | undefined = noEnv,
): void {
  assert.throws(
    () => parseServerArgs(args, env, hostname),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
      assert.equal(error.name, "ConfigError");
      assert.match(error.message, message);
      return true;
    },
  );
}

const DEFAULTS: ServerConfig = {
  port: 6000,
  host: "0.0.0.0",
  db: "sqlite:./chat.db",
  redis: null,
  redisCluster: null,
  redisPrefix: "chat:",
  nodeId: "box:6000",
  maxFrame: 1048576,
  idleTimeoutSeconds: 90,
  metricsPort: null,
  metricsHost: "127.0.0.1",
  rateLimit: 200,
  pendingCap: 5000,
  tokenTtlDays: 30,
  registerLimit: 20,
  maxConnections: 960,
  loginTimeoutSeconds: 30,
  tls: null,
  logLevel: "info",
  logFormat: "pretty",
  httpPort: null,
  httpOrigins: [],
};

Deno.test("config: no arguments and no environment give the defaults", () => {
  assert.deepEqual(run([]), DEFAULTS);
});

Deno.test("config: the default node id is the injected hostname and the port", () => {
  assert.equal(run(["7001"], noEnv, () => "chat-1.example").nodeId, "chat-1.example:7001");
});

Deno.test("config: a positional argument is the port", () => {
  assert.deepEqual(run(["6100"]), { ...DEFAULTS, port: 6100, nodeId: "box:6100" });
});

Deno.test("config: port precedence is flag, then positional, then env, then default", () => {
  const env = envOf({ CHAT_PORT: "7003" });
  assert.equal(run(["7002", "--port", "7001"], env).port, 7001);
  assert.equal(run(["--port=7001", "7002"], env).port, 7001);
  assert.equal(run(["7002"], env).port, 7002);
  assert.equal(run([], env).port, 7003);
  assert.equal(run([]).port, 6000);
});

Deno.test("config: every flag sets its setting", () => {
  const config = run(
    [
      "--port",
      "6200",
      "--host",
      "127.0.0.1",
      "--db",
      "sqlite::memory:",
      "--redis",
      "redis://cache:6379",
      "--redis-prefix",
      "blue:",
      "--node-id",
      "node-a",
      "--max-frame",
      "2048",
      "--idle-timeout",
      "0",
      "--rate-limit",
      "50",
      "--pending-cap",
      "10",
      "--token-ttl",
      "2",
      "--register-limit",
      "100",
      "--max-connections",
      "500",
      "--login-timeout",
      "0",
      "--tls-cert",
      "cert.pem",
      "--tls-key",
      "key.pem",
      "--log-level",
      "debug",
      "--log-format",
      "json",
      "--metrics-port",
      "9100",
      "--metrics-host",
      "0.0.0.0",
      "--http-port",
      "8080",
      "--http-origins",
      "https://chat.example.com, http://localhost:8080/",
    ],
    noEnv,
    noHostname,
  );
  assert.deepEqual(config, {
    port: 6200,
    host: "127.0.0.1",
    db: "sqlite::memory:",
    redis: "redis://cache:6379",
    redisCluster: null,
    redisPrefix: "blue:",
    nodeId: "node-a",
    maxFrame: 2048,
    idleTimeoutSeconds: 0,
    rateLimit: 50,
    pendingCap: 10,
    tokenTtlDays: 2,
    registerLimit: 100,
    maxConnections: 500,
    loginTimeoutSeconds: 0,
    tls: { certFile: "cert.pem", keyFile: "key.pem" },
    logLevel: "debug",
    logFormat: "json",
    metricsPort: 9100,
    metricsHost: "0.0.0.0",
    httpPort: 8080,
    httpOrigins: ["https://chat.example.com", "http://localhost:8080"],
  });
});

Deno.test("config: every CHAT_* environment variable sets its setting", () => {
  const env = envOf({
    CHAT_PORT: "6300",
    CHAT_HOST: "::1",
    CHAT_DB: "mysql://chat:secret@db:3306/chat",
    CHAT_REDIS: "rediss://cache:6380/2",
    CHAT_REDIS_PREFIX: "green:",
    CHAT_NODE_ID: "node-b",
    CHAT_MAX_FRAME: "65536",
    CHAT_IDLE_TIMEOUT: "30",
    CHAT_RATE_LIMIT: "7",
    CHAT_PENDING_CAP: "99",
    CHAT_TOKEN_TTL: "365",
    CHAT_REGISTER_LIMIT: "5",
    CHAT_MAX_CONNECTIONS: "7",
    CHAT_LOGIN_TIMEOUT: "12",
    CHAT_TLS_CERT: "/etc/chat/cert.pem",
    CHAT_TLS_KEY: "/etc/chat/key.pem",
    CHAT_LOG_LEVEL: "warn",
    CHAT_LOG_FORMAT: "json",
    CHAT_METRICS_PORT: "9101",
    CHAT_METRICS_HOST: "::",
    CHAT_HTTP_PORT: "8081",
    CHAT_HTTP_ORIGINS: "https://a.example",
  });
  assert.deepEqual(run([], env, noHostname), {
    port: 6300,
    host: "::1",
    db: "mysql://chat:secret@db:3306/chat",
    redis: "rediss://cache:6380/2",
    redisCluster: null,
    redisPrefix: "green:",
    nodeId: "node-b",
    maxFrame: 65536,
    idleTimeoutSeconds: 30,
    rateLimit: 7,
    pendingCap: 99,
    tokenTtlDays: 365,
    registerLimit: 5,
    maxConnections: 7,
    loginTimeoutSeconds: 12,
    tls: { certFile: "/etc/chat/cert.pem", keyFile: "/etc/chat/key.pem" },
    logLevel: "warn",
    logFormat: "json",
    metricsPort: 9101,
    metricsHost: "::",
    httpPort: 8081,
    httpOrigins: ["https://a.example"],
  });
});

Deno.test("config: each environment variable works on its own", () => {
  const tls = { certFile: "c.pem", keyFile: "k.pem" };
  // The TLS pair goes together: each is tried with the other set too.
  const cases: [string, string, Partial<ServerConfig>, Record<string, string>?][] = [
    ["CHAT_TLS_CERT", "c.pem", { tls }, { CHAT_TLS_KEY: "k.pem" }],
    ["CHAT_TLS_KEY", "k.pem", { tls }, { CHAT_TLS_CERT: "c.pem" }],
    ["CHAT_PORT", "6400", { port: 6400, nodeId: "box:6400" }],
    ["CHAT_HOST", "localhost", { host: "localhost" }],
    ["CHAT_DB", "sqlite:/var/lib/chat.db", { db: "sqlite:/var/lib/chat.db" }],
    ["CHAT_REDIS", "redis://localhost:6379", { redis: "redis://localhost:6379" }],
    [
      "CHAT_REDIS_CLUSTER",
      "10.0.0.1:7000,[::1]:7001",
      { redisCluster: [{ host: "10.0.0.1", port: 7000 }, { host: "::1", port: 7001 }] },
    ],
    ["CHAT_REDIS_PREFIX", "red:", { redisPrefix: "red:" }],
    ["CHAT_NODE_ID", "solo", { nodeId: "solo" }],
    ["CHAT_MAX_FRAME", "1", { maxFrame: 1 }],
    ["CHAT_IDLE_TIMEOUT", "5", { idleTimeoutSeconds: 5 }],
    ["CHAT_RATE_LIMIT", "3", { rateLimit: 3 }],
    ["CHAT_PENDING_CAP", "4", { pendingCap: 4 }],
    ["CHAT_TOKEN_TTL", "7", { tokenTtlDays: 7 }],
    ["CHAT_REGISTER_LIMIT", "0", { registerLimit: 0 }],
    ["CHAT_MAX_CONNECTIONS", "3", { maxConnections: 3 }],
    ["CHAT_LOGIN_TIMEOUT", "0", { loginTimeoutSeconds: 0 }],
    ["CHAT_LOG_LEVEL", "error", { logLevel: "error" }],
    ["CHAT_LOG_FORMAT", "json", { logFormat: "json" }],
    ["CHAT_METRICS_PORT", "9102", { metricsPort: 9102 }],
    ["CHAT_METRICS_HOST", "10.0.0.1", { metricsHost: "10.0.0.1" }],
    ["CHAT_HTTP_PORT", "0", { httpPort: 0 }],
    ["CHAT_HTTP_ORIGINS", "http://[::1]:8080", { httpOrigins: ["http://[::1]:8080"] }],
  ];
  assert.deepEqual(cases.map(([name]) => name).sort(), SETTINGS.map((s) => s.env).sort());
  for (const [name, value, expected, partner] of cases) {
    const env = envOf({ ...partner, [name]: value });
    assert.deepEqual(run([], env), { ...DEFAULTS, ...expected }, name);
  }
});

Deno.test("config: flags beat environment variables", () => {
  const env = envOf({ CHAT_HOST: "env-host", CHAT_LOG_LEVEL: "error", CHAT_NODE_ID: "env-node" });
  const config = run(
    ["--host", "flag-host", "--log-level", "debug", "--node-id", "flag-node"],
    env,
  );
  assert.equal(config.host, "flag-host");
  assert.equal(config.logLevel, "debug");
  assert.equal(config.nodeId, "flag-node");
});

Deno.test("config: --flag=value syntax works", () => {
  const config = run(["--port=6500", "--log-format=json", "--max-frame=4096"]);
  assert.equal(config.port, 6500);
  assert.equal(config.logFormat, "json");
  assert.equal(config.maxFrame, 4096);
});

Deno.test("config: an empty --redis means no cluster", () => {
  assert.equal(run(["--redis", ""], envOf({ CHAT_REDIS: "redis://x:1" })).redis, null);
});

Deno.test("config: the port range ends are accepted", () => {
  assert.equal(run(["0"]).port, 0);
  assert.equal(run(["65535"]).port, 65535);
});

Deno.test("config: an invalid port is a ConfigError naming the flag and value", () => {
  for (const value of ["abc", "70000", "65536", "-1", "1.5", "", " 80", "1e3", "0x10"]) {
    assertConfigError([`--port=${value}`], new RegExp(`--port '${escapeRegExp(value)}'`));
  }
  assertConfigError(["abc"], /--port 'abc'/);
  assertConfigError(["70000"], /--port '70000'/);
  assertConfigError([], /--port 'abc'/, envOf({ CHAT_PORT: "abc" }));
});

Deno.test("config: a negative positional port or a dash-led flag value is a ConfigError", () => {
  assertConfigError(["-1"], /'-1'/);
  assertConfigError(["--port", "-1"], /--port/);
});

Deno.test("config: an invalid --max-frame is a ConfigError", () => {
  for (const value of ["0", "-5", "abc", "1.5", String(64 * 1024 * 1024 + 1)]) {
    assertConfigError([`--max-frame=${value}`], new RegExp(`--max-frame '${value}'`));
  }
  assert.equal(run(["--max-frame", String(64 * 1024 * 1024)]).maxFrame, 64 * 1024 * 1024);
});

Deno.test("config: an invalid --log-level or --log-format is a ConfigError", () => {
  assertConfigError(["--log-level", "verbose"], /--log-level 'verbose'.*debug, info, warn, error/);
  assertConfigError(["--log-level", "INFO"], /--log-level 'INFO'/);
  assertConfigError(["--log-format", "xml"], /--log-format 'xml'.*pretty, json/);
});

Deno.test("config: an invalid --http-port or --http-origins entry is a ConfigError", () => {
  assertConfigError(["--http-port", "http"], /--http-port 'http'/);
  assertConfigError(["--http-port", "65536"], /--http-port '65536'/);
  for (const value of ["chat.example.com", "https://chat.example.com/app", "ftp://x", "*"]) {
    assertConfigError(
      ["--http-origins", `https://ok.example,${value}`],
      new RegExp(`--http-origins entry '${escapeRegExp(value)}'`),
    );
  }
});

Deno.test("config: an invalid --db is a ConfigError", () => {
  for (const value of ["postgres://x", "sqlite:", "chat.db", "mysql://host", "mysql://host/"]) {
    assertConfigError(["--db", value], new RegExp(`--db '${escapeRegExp(value)}'`));
  }
});

Deno.test("config: an invalid --redis is a ConfigError", () => {
  for (const value of ["http://x", "redis://", "redis://host/db", "cache:6379"]) {
    assertConfigError(["--redis", value], new RegExp(`--redis '${escapeRegExp(value)}'`));
  }
});

Deno.test("config: --redis-cluster takes host:port seeds separated by commas", () => {
  assert.deepEqual(run(["--redis-cluster", "a:7000, b.example:7001"]).redisCluster, [
    { host: "a", port: 7000 },
    { host: "b.example", port: 7001 },
  ]);
  for (
    const value of ["a", "a:", ":7000", "a:0", "a:70000", "redis://a:7000", "a:7000,", "a b:1"]
  ) {
    assertConfigError(
      ["--redis-cluster", value],
      new RegExp(`--redis-cluster '${escapeRegExp(value)}'`),
    );
  }
});

Deno.test("config: --redis and --redis-cluster together are a ConfigError", () => {
  const both = /--redis and --redis-cluster exclude each other/;
  assertConfigError(["--redis", "redis://x:1", "--redis-cluster", "x:7000"], both);
  assertConfigError(["--redis-cluster", "x:7000"], both, envOf({ CHAT_REDIS: "redis://x:1" }));
});

Deno.test("config: an unknown flag is a ConfigError naming it", () => {
  assertConfigError(["--nope"], /--nope/);
  assertConfigError(["--port", "6000", "--verbose"], /--verbose/);
});

Deno.test("config: a flag without its value is a ConfigError naming it", () => {
  assertConfigError(["--db"], /--db/);
});

Deno.test("config: two positional arguments are a ConfigError naming the extra one", () => {
  assertConfigError(["6000", "6001"], /unexpected argument '6001'/);
});

Deno.test("config: --help and --version are commands, not configurations", () => {
  assert.deepEqual(parseServerArgs(["--help"], noEnv, noHostname), { kind: "help" });
  assert.deepEqual(parseServerArgs(["--version"], noEnv, noHostname), { kind: "version" });
  assert.deepEqual(parseServerArgs(["--port", "abc", "--help"], noEnv, noHostname), {
    kind: "help",
  });
});

Deno.test("config: usage mentions every flag, environment variable and default", () => {
  const text = usage();
  for (const setting of SETTINGS) {
    assert.ok(text.includes(`--${setting.flag}`), setting.flag);
    assert.ok(text.includes(setting.env), setting.env);
    if (setting.fallback) assert.ok(text.includes(`[${setting.fallback}]`), setting.fallback);
  }
  assert.ok(text.includes("--help"));
  assert.ok(text.includes("--version"));
  assert.match(text, /^Usage: /);
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("config: TLS needs both the certificate and the key", () => {
  assertConfigError(["--tls-cert", "cert.pem"], /--tls-cert and --tls-key go together/);
  assertConfigError(["--tls-key", "key.pem"], /--tls-cert and --tls-key go together/);
});

Deno.test("config: the default connection limit comes from the open-files limit", () => {
  assert.equal(defaultMaxConnections(1024), 1024 - RESERVED_FILES);
  assert.equal(defaultMaxConnections(65536), 65536 - RESERVED_FILES);
  assert.equal(defaultMaxConnections(10), 1, "never below one");
  assert.equal(defaultMaxConnections(null), 10_000, "unreadable: a fixed default");
  const limit = readOpenFilesLimit();
  if (Deno.build.os === "linux") assert.ok(limit === null || limit > 0);
  assertConfigError(["--max-connections", "0"], /--max-connections '0'/);
});
