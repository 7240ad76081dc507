// The Redis key and channel names of one chat cluster (all start with its prefix). On a Redis
// Cluster, what one operation reads or changes together must live in one hash slot: a node's
// keys carry its id as a hash tag (`{<nodeId>}`), so its alive key and its user set share a slot
// (and a shard with its bus channel); a user's key stands alone, and every script touches either
// one user's key or one node's keys, never both.

export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** Holds the id of the node a user is online on. */
  user(userId: number): string {
    return `${this.prefix}user:${userId}`;
  }

  /** Exists while the node is alive (expires unless its heartbeat refreshes it). */
  alive(nodeId: string): string {
    return `${this.prefix}node:{${nodeId}}:alive`;
  }

  /** The set of user ids a node holds. */
  users(nodeId: string): string {
    return `${this.prefix}node:{${nodeId}}:users`;
  }

  /** The latest presence epoch taken for a user (a key of its own, like the user key). */
  epoch(userId: number): string {
    return `${this.prefix}epoch:${userId}`;
  }

  /** The hash of the cluster's nodes: node id -> the token of its current life (one key). */
  nodes(): string {
    return `${this.prefix}nodes`;
  }

  /** The pub/sub channel of a node (a sharded channel on a Redis Cluster). */
  channel(nodeId: string): string {
    return `${this.prefix}bus:{${nodeId}}`;
  }
}
