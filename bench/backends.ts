// The cluster scenario's private backends: whether MySQL, Redis and nginx are there, a MySQL
// database created for the run and dropped after it, and a Redis key prefix of its own whose
// keys are deleted after it.

import mysql from "mysql2/promise";
import { createClient } from "redis";
import { nginxInstalled } from "../tests/support/nginx.ts";
import { redisClusterSupported, startRedisCluster } from "../tests/support/redis_cluster.ts";
import { tcpOpen } from "../tests/support/services.ts";
import { track } from "./cleanup.ts";

export const MYSQL = { host: "127.0.0.1", port: 3306, user: "root" };
export const REDIS = { host: "127.0.0.1", port: 6379 };

const unique = () => crypto.randomUUID().replaceAll("-", "").slice(0, 12);

async function mysqlQuery(sql: string): Promise<void> {
  const connection = await mysql.createConnection(MYSQL);
  try {
    await connection.query(sql);
  } finally {
    await connection.end();
  }
}

/** Creates a fresh database `chat_bench_<random>`; dropping it is the dispose. */
export async function mysqlDatabase(): Promise<{ url: string; name: string } & AsyncDisposable> {
  const name = `chat_bench_${unique()}`;
  await mysqlQuery(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const { user, host, port } = MYSQL;
  return track(
    { url: `mysql://${user}@${host}:${port}/${name}`, name },
    () => mysqlQuery(`DROP DATABASE IF EXISTS ${name}`),
  );
}

/** A Redis key prefix no one else uses; disposing deletes whatever keys are left under it. */
export function redisPrefix(): { prefix: string; url: string } & AsyncDisposable {
  const prefix = `chat-bench:${unique()}:`;
  const url = `redis://${REDIS.host}:${REDIS.port}`;
  return track({ prefix, url }, async () => {
    const client = createClient({ url });
    await client.connect();
    try {
      const keys: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
        keys.push(...batch);
      }
      if (keys.length > 0) await client.del(keys);
    } finally {
      client.destroy();
    }
  });
}

/**
 * A private Redis Cluster (3 masters, 3 replicas) for the run, or why there cannot be one;
 * disposing stops it.
 */
export async function redisCluster(): Promise<({ seeds: string } & AsyncDisposable) | string> {
  if (!await redisClusterSupported()) return "redis-server 7 and redis-cli are not installed";
  try {
    const fixture = await startRedisCluster();
    return track({ seeds: fixture.seeds.join(",") }, () => fixture.stop());
  } catch (error) {
    return `a Redis Cluster did not start: ${error instanceof Error ? error.message : error}`;
  }
}

/** Why the cluster scenario cannot run here, or null when it can. */
export async function clusterMissing(): Promise<string | null> {
  if (!await tcpOpen(MYSQL.host, MYSQL.port)) {
    return `MariaDB/MySQL is not reachable at ${MYSQL.host}:${MYSQL.port}`;
  }
  if (!await tcpOpen(REDIS.host, REDIS.port)) {
    return `Redis is not reachable at ${REDIS.host}:${REDIS.port}`;
  }
  if (!await nginxInstalled()) return "nginx with the stream module is not installed";
  return null;
}
