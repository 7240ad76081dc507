// Connects one server node to a Redis-backed cluster, on a single Redis (`url`) or a Redis
// Cluster (`clusterSeeds`): its presence and its bus share the node's router (the command
// connections); the bus subscribes on connections of its own.

import type { Bus, Presence } from "./types.ts";
import { closeRedisClient, openRedisClient, type RedisClient, type Warn } from "./redis_client.ts";
import { type ClusterAddress, ClusterRouter } from "./redis_cluster_router.ts";
import { RedisKeys } from "./redis_keys.ts";
import { PlainPubSub, type PubSub } from "./redis_pubsub.ts";
import { type RedisRouter, SingleRedisRouter } from "./redis_router.ts";
import { ShardedPubSub } from "./redis_sharded_pubsub.ts";
import { RedisPresence } from "./redis_presence.ts";
import { RedisBus } from "./redis_bus.ts";

export interface RedisClusterOptions {
  /** A single Redis, e.g. "redis://127.0.0.1:6379" (give this or `clusterSeeds`). */
  url?: string;
  /** Seed nodes of a Redis Cluster (give this or `url`). */
  clusterSeeds?: readonly ClusterAddress[];
  nodeId: string;
  /** Prepended to every key and channel; default "chat:". */
  prefix?: string;
  /** How long a node counts as alive after its last heartbeat; default 6000 ms. */
  livenessTtlMs?: number;
  /** How often the other nodes are checked for having gone; default 1000 ms. */
  nodeWatchMs?: number;
  /** Where connection problems and malformed bus messages are reported; default console.warn. */
  warn?: Warn;
}

const DEFAULT_TTL_MS = 6_000;

/** Connects, marks the node alive; rejects with StorageError when Redis is unreachable. */
export async function connectRedisCluster(
  options: RedisClusterOptions,
): Promise<{ presence: Presence; bus: Bus }> {
  const { url, clusterSeeds, nodeId, prefix = "chat:", livenessTtlMs = DEFAULT_TTL_MS } = options;
  const warn = options.warn ?? ((message: string) => console.warn(message));
  if (!Number.isSafeInteger(livenessTtlMs) || livenessTtlMs < 3) {
    throw new RangeError(`livenessTtlMs must be an integer >= 3, got ${livenessTtlMs}`);
  }
  if ((url === undefined) === (clusterSeeds === undefined)) {
    throw new TypeError("Cannot connect: give either url or clusterSeeds");
  }
  const keys = new RedisKeys(prefix);
  const name = `chat-${nodeId}`;
  let router: RedisRouter;
  let pubsub: PubSub;
  if (url !== undefined) {
    const client = await openRedisClient(url, `${name}-commands`, warn);
    let subscriber: RedisClient;
    try {
      subscriber = await openRedisClient(url, `${name}-bus`, warn);
    } catch (error) {
      await closeRedisClient(client);
      throw error;
    }
    router = new SingleRedisRouter(client, warn);
    pubsub = new PlainPubSub(router, subscriber, warn);
  } else {
    const clusterRouter = await ClusterRouter.connect(clusterSeeds!, name, warn);
    router = clusterRouter;
    pubsub = new ShardedPubSub(clusterRouter, name, warn);
  }
  let routerHolders = 2; // presence and bus
  const releaseRouter = async () => {
    if (--routerHolders === 0) await router.close();
  };
  try {
    const presence = await RedisPresence.start({
      router,
      keys,
      nodeId,
      livenessTtlMs,
      nodeWatchMs: options.nodeWatchMs,
      warn,
      releaseRouter,
    });
    const bus = new RedisBus({ pubsub, keys, warn, releaseRouter });
    return { presence, bus };
  } catch (error) {
    await pubsub.close();
    await router.close();
    throw error;
  }
}
