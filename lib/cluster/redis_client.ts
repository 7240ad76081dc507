// Redis connections for the cluster layer. A connection fails fast while Redis is unreachable
// (commands reject instead of queueing), reconnects by itself with a bounded backoff (unless told
// not to), and reports outages once through `warn` instead of crashing the process.

import { createClient } from "redis";
import { StorageError } from "../errors.ts";
import { redactUrl } from "../redact.ts";

export type RedisClient = ReturnType<typeof createClient>;

/** Reports a problem worth an operator's attention; never throws. */
export type Warn = (message: string) => void;

const CONNECT_TIMEOUT_MS = 3_000;
const MAX_BACKOFF_MS = 2_000;

/**
 * Opens a connection named `name` (visible in CLIENT LIST). Rejects with StorageError when Redis
 * cannot be reached now; once connected, outages are retried forever with backoff.
 */
export async function openRedisClient(url: string, name: string, warn: Warn): Promise<RedisClient> {
  const client = createRedisClient({ url }, name, warn);
  try {
    await client.connect();
  } catch (error) {
    const detail = `cannot connect to Redis at ${redactUrl(url)}: ${messageOf(error)}`;
    throw new StorageError(detail, { cause: error, backend: "cluster" });
  }
  return client;
}

/** Where a connection goes: a redis:// URL, or a host and port (a Redis Cluster node). */
export type RedisTarget = { url: string } | { host: string; port: number };

/**
 * A connection named `name`, not yet connected. Once it has been ready, a lost connection is
 * reported and retried with backoff, unless `reconnect` is false (it then just ends).
 */
export function createRedisClient(
  target: RedisTarget,
  name: string,
  warn: Warn,
  { reconnect = true }: { reconnect?: boolean } = {},
): RedisClient {
  let everReady = false;
  let healthy = true;
  const address = "url" in target ? {} : { host: target.host, port: target.port };
  const client = createClient({
    ...("url" in target ? { url: target.url } : {}),
    name: name.replace(/[^\x21-\x7e]/g, "_"),
    disableOfflineQueue: true,
    socket: {
      ...address,
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectStrategy: (retries) =>
        reconnect && everReady && Math.min((retries + 1) * 100, MAX_BACKOFF_MS),
    },
  });
  client.on("error", (error: unknown) => {
    if (everReady && healthy && reconnect) {
      warn(`Redis connection ${name} lost: ${messageOf(error)}`);
    }
    healthy = false;
  });
  client.on("ready", () => {
    if (everReady && !healthy) warn(`Redis connection ${name} restored`);
    everReady = healthy = true;
  });
  return client;
}

/** Closes a connection: politely when it is up, at once when it is not. Idempotent. */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  if (client.isReady) await client.close();
  else client.destroy();
}

/** Drops a connection at once, whatever its state (a failed connect leaves it closed). */
export function destroyRedisClient(client: RedisClient): void {
  if (client.isOpen) client.destroy();
}

/**
 * How long a command may go unanswered. A master that hangs (stopped, or cut off without a reset)
 * keeps its connection open and answers nothing; node-redis's own timeout stops counting once a
 * command is written, so this one races the answer.
 */
export const COMMAND_TIMEOUT_MS = 3_000;

/** `operation`'s result, or a rejection once `ms` have passed without one. */
export function answeredWithin<T>(operation: Promise<T>, ms = COMMAND_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([operation, late]).finally(() => clearTimeout(timer));
}

/** Runs one Redis operation, turning any failure into a StorageError. */
export async function storage<T>(action: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await answeredWithin(operation());
  } catch (error) {
    throw new StorageError(`Redis ${action} failed: ${messageOf(error)}`, {
      cause: error,
      backend: "cluster",
    });
  }
}

/** What went wrong, for a log line: a StorageError's detail rather than its words for clients. */
export function messageOf(error: unknown): string {
  if (error instanceof StorageError) return error.detail;
  if (error instanceof AggregateError && !error.message) {
    return error.errors.map(messageOf).join("; ");
  }
  return error instanceof Error ? error.message || error.name : String(error);
}
