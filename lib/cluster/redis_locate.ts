// Where users are online, read from Redis: the user keys (one MGET per slot), then the alive keys
// of the distinct nodes they name. A user is online iff their key names a node whose alive key
// exists. Nodes seen alive are remembered for a moment, so a busy node does not ask for the same
// alive keys again with every message.

import type { RedisKeys } from "./redis_keys.ts";
import { getMany, type RedisRouter } from "./redis_router.ts";

/** How long a node seen alive is trusted to be, well inside the liveness TTL. */
const ALIVE_CACHE_MS = 500;

export class RedisLocator {
  readonly #router: RedisRouter;
  readonly #keys: RedisKeys;
  readonly #now: () => number;
  /**
   * Nodes seen alive, until when that is trusted without asking Redis again; bounded by the
   * nodes named by user keys, and a node seen dead is dropped.
   */
  readonly #seenAlive = new Map<string, number>();

  constructor(router: RedisRouter, keys: RedisKeys, now: () => number) {
    this.#router = router;
    this.#keys = keys;
    this.#now = now;
  }

  async locate(userIds: readonly number[]): Promise<Map<number, string>> {
    const found = new Map<number, string>();
    if (userIds.length === 0) return found;
    const holders = await getMany(this.#router, "locate", userIds.map((id) => this.#keys.user(id)));
    const named = [...new Set(holders.filter((node) => node !== null))];
    const live = await this.#liveAmong(named);
    userIds.forEach((userId, i) => {
      const node = holders[i];
      if (node !== null && live.has(node)) found.set(userId, node);
    });
    return found;
  }

  /**
   * The nodes among `nodes` whose alive key exists. A node seen alive is taken as alive for
   * ALIVE_CACHE_MS without asking again (a node that just died looks alive a little longer, as
   * it does until its key expires anyway; its channel has no subscriber, so what is published
   * to it stays pending). A node seen dead is always asked again.
   */
  async #liveAmong(nodes: string[]): Promise<Set<string>> {
    const now = this.#now();
    const live = new Set(nodes.filter((node) => (this.#seenAlive.get(node) ?? 0) > now));
    const unknown = nodes.filter((node) => !live.has(node));
    if (unknown.length === 0) return live;
    const alive = await getMany(
      this.#router,
      "locate",
      unknown.map((node) => this.#keys.alive(node)),
    );
    unknown.forEach((node, i) => {
      if (alive[i] === null) return void this.#seenAlive.delete(node);
      live.add(node);
      this.#seenAlive.set(node, now + ALIVE_CACHE_MS);
    });
    return live;
  }
}
