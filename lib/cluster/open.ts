// Joins the cluster a --redis URL names, or runs alone with the in-process presence and bus.

import type { Logger } from "../log.ts";
import { InProcessCluster } from "./memory.ts";
import type { Bus, Presence } from "./types.ts";

export async function openCluster(
  redisUrl: string | null,
  redisPrefix: string,
  nodeId: string,
  log: Logger,
): Promise<{ presence: Presence; bus: Bus }> {
  if (redisUrl) {
    const { connectRedisCluster } = await import("./redis.ts");
    return await connectRedisCluster({
      url: redisUrl,
      nodeId,
      prefix: redisPrefix,
      warn: (message) => log.warn(message),
    });
  }
  const cluster = new InProcessCluster();
  return { presence: cluster.presence(nodeId), bus: cluster.bus() };
}
