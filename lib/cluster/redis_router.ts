// Which Redis connection serves a key: the one connection to a single Redis, or the master that
// owns the key's hash slot in a Redis Cluster (lib/cluster/redis_cluster_router.ts). Presence
// and the bus send every command through a router, so one code path serves both; reads of many
// keys go as one read per slot, issued together (node-redis writes the commands issued in one
// turn to a connection together: a pipeline per node), which on a single Redis is one MGET.

import {
  answeredWithin,
  closeRedisClient,
  messageOf,
  type RedisClient,
  storage,
  type Warn,
} from "./redis_client.ts";

/**
 * Told that a connection came back or the cluster changed masters: recent writes to `slots` may
 * be lost (null: to any slot).
 */
export type RestoredListener = (slots: ReadonlySet<number> | null) => void;

export interface RedisRouter {
  /** The hash slot of `key`; on a single Redis every key is in slot 0. */
  slotOf(key: string): number;
  /**
   * Runs `command` on the connection serving `key`'s slot. A failure becomes a StorageError
   * naming `action` (errno 9); on a cluster it also makes the router look for a new master.
   */
  run<T>(action: string, key: string, command: (client: RedisClient) => Promise<T>): Promise<T>;
  /** True when every master answers PING. */
  ping(): Promise<boolean>;
  /**
   * Calls `listener` each time a lost connection is back or a slot has a new master (after a
   * failover), with the slots concerned: whatever was written or published there just before
   * may be gone.
   */
  onRestored(listener: RestoredListener): void;
  close(): Promise<void>;
}

/** Values of `keys`, in order: one MGET per slot, all issued at once. */
export async function getMany(
  router: RedisRouter,
  action: string,
  keys: readonly string[],
): Promise<Array<string | null>> {
  const bySlot = new Map<number, number[]>();
  keys.forEach((key, index) => {
    const slot = router.slotOf(key);
    const indexes = bySlot.get(slot);
    if (indexes) indexes.push(index);
    else bySlot.set(slot, [index]);
  });
  const values = new Array<string | null>(keys.length).fill(null);
  await Promise.all([...bySlot.values()].map(async (indexes) => {
    const slotKeys = indexes.map((index) => keys[index]);
    const found = await router.run(action, slotKeys[0], (client) => client.mGet(slotKeys));
    indexes.forEach((index, i) => values[index] = found[i]);
  }));
  return values;
}

/** Runs `each` over `items` with at most `width` running at once, in order of start. */
export async function inWaves<T>(
  items: readonly T[],
  width: number,
  each: (item: T) => Promise<unknown>,
): Promise<void> {
  for (let start = 0; start < items.length; start += width) {
    await Promise.all(items.slice(start, start + width).map(each));
  }
}

/** The router of a single Redis: every key on its one command connection. */
export class SingleRedisRouter implements RedisRouter {
  readonly #client: RedisClient;
  readonly #warn: Warn;
  readonly #listeners: RestoredListener[] = [];
  #closed = false;

  /** `client` is connected; each later "ready" is a reconnect. */
  constructor(client: RedisClient, warn: Warn) {
    this.#client = client;
    this.#warn = warn;
    client.on("ready", () => this.#restored());
  }

  /** The command connection, for the bus's PUBLISH. */
  get client(): RedisClient {
    return this.#client;
  }

  slotOf(_key: string): number {
    return 0;
  }

  run<T>(action: string, _key: string, command: (client: RedisClient) => Promise<T>): Promise<T> {
    return storage(action, () => command(this.#client));
  }

  async ping(): Promise<boolean> {
    try {
      return await answeredWithin(this.#client.ping()) === "PONG";
    } catch {
      return false;
    }
  }

  onRestored(listener: RestoredListener): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.length = 0;
    await closeRedisClient(this.#client);
  }

  #restored(): void {
    if (this.#closed) return;
    notifyAll(this.#listeners, this.#warn, "Redis reconnect listener", null);
  }
}

/** Calls every listener; one that throws is reported and does not stop the others. */
export function notifyAll<A extends unknown[]>(
  listeners: readonly ((...args: A) => void)[],
  warn: Warn,
  what: string,
  ...args: A
): void {
  for (const listener of listeners) {
    try {
      listener(...args);
    } catch (error) {
      warn(`${what} failed: ${messageOf(error)}`);
    }
  }
}
