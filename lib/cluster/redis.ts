// Connects one server node to a Redis-backed cluster: its presence and its bus share the
// node's command connection; the bus subscribes on a second connection of its own.

import type { Bus, Presence } from "./types.ts";
import {
  closeRedisClient,
  openRedisClient,
  type RedisClient,
  RedisKeys,
  type Warn,
} from "./redis_client.ts";
import { RedisPresence } from "./redis_presence.ts";
import { RedisBus } from "./redis_bus.ts";

export interface RedisClusterOptions {
  /** e.g. "redis://127.0.0.1:6379" */
  url: string;
  nodeId: string;
  /** Prepended to every key and channel; default "chat:". */
  prefix?: string;
  /** How long a node counts as alive after its last heartbeat; default 6000 ms. */
  livenessTtlMs?: number;
  /** Where connection problems and malformed bus messages are reported; default console.warn. */
  warn?: Warn;
}

const DEFAULT_TTL_MS = 6_000;

/** Connects, marks the node alive; rejects with StorageError when Redis is unreachable. */
export async function connectRedisCluster(
  options: RedisClusterOptions,
): Promise<{ presence: Presence; bus: Bus }> {
  const { url, nodeId, prefix = "chat:", livenessTtlMs = DEFAULT_TTL_MS } = options;
  const warn = options.warn ?? ((message: string) => console.warn(message));
  if (!Number.isSafeInteger(livenessTtlMs) || livenessTtlMs < 3) {
    throw new RangeError(`livenessTtlMs must be an integer >= 3, got ${livenessTtlMs}`);
  }
  const keys = new RedisKeys(prefix);
  const client = await openRedisClient(url, `chat-${nodeId}-commands`, warn);
  let clientHolders = 2; // presence and bus
  const releaseClient = async () => {
    if (--clientHolders === 0) await closeRedisClient(client);
  };
  let subscriber: RedisClient | undefined;
  try {
    subscriber = await openRedisClient(url, `chat-${nodeId}-bus`, warn);
    const presence = await RedisPresence.start({
      client,
      keys,
      nodeId,
      livenessTtlMs,
      warn,
      releaseClient,
    });
    const bus = new RedisBus({
      publisher: client,
      subscriber,
      keys,
      warn,
      releasePublisher: releaseClient,
    });
    return { presence, bus };
  } catch (error) {
    if (subscriber) await closeRedisClient(subscriber);
    await closeRedisClient(client);
    throw error;
  }
}
