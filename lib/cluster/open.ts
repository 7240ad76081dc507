// Joins the cluster a --redis URL or --redis-cluster seed list names, or runs alone with the
// in-process presence and bus.

import type { ClusterSeed } from "../config.ts";
import type { Logger } from "../log.ts";
import { InProcessCluster } from "./memory.ts";
import type { Bus, Presence } from "./types.ts";

export interface ClusterChoice {
  /** A single Redis (redis://host:port), or null. */
  redis: string | null;
  /** The seed nodes of a Redis Cluster, or null. */
  redisCluster: readonly ClusterSeed[] | null;
  redisPrefix: string;
  nodeId: string;
}

export async function openCluster(
  { redis, redisCluster, redisPrefix, nodeId }: ClusterChoice,
  log: Logger,
): Promise<{ presence: Presence; bus: Bus }> {
  if (redis || redisCluster) {
    const { connectRedisCluster } = await import("./redis.ts");
    return await connectRedisCluster({
      ...(redisCluster ? { clusterSeeds: redisCluster } : { url: redis! }),
      nodeId,
      prefix: redisPrefix,
      warn: (message) => log.warn(message),
    });
  }
  const cluster = new InProcessCluster();
  return { presence: cluster.presence(nodeId), bus: cluster.bus() };
}
