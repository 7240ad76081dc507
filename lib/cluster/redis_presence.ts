// Cluster presence on Redis. `user:<id>` names the node a user is on, `users:<node>` lists the
// users a node holds and `alive:<node>` exists while the node's heartbeat refreshes it. A user is
// online iff their user key names a node whose alive key exists, so a killed node's users lapse
// within one liveness TTL with no per-user refresh.

import type { Presence, RecoveryListener } from "./types.ts";
import { messageOf, type RedisClient, type RedisKeys, storage, type Warn } from "./redis_client.ts";

// KEYS: user key, this node's users set, this node's alive key.
// ARGV: key prefix, this node's id, user id, liveness TTL (ms).
const CLAIM = `
local holder = redis.call('GET', KEYS[1])
if holder and redis.call('EXISTS', ARGV[1] .. 'alive:' .. holder) == 1 then return 0 end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[4])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return 1`;

// KEYS: user key, this node's users set. ARGV: this node's id, user id.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SREM', KEYS[2], ARGV[2])
return 0`;

// Drops every user this node holds, then marks the node alive (TTL > 0) or gone (TTL 0).
// KEYS: this node's users set, this node's alive key.
// ARGV: key prefix, this node's id, liveness TTL (ms) or 0.
const FORGET = `
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. 'user:' .. id
  if redis.call('GET', key) == ARGV[2] then redis.call('DEL', key) end
end
redis.call('DEL', KEYS[1])
if ARGV[3] == '0' then redis.call('DEL', KEYS[2])
else redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) end
return 0`;

// Marks again the users this node holds whose user key is gone (Redis restarted empty, say),
// never taking over a user whom another node holds now; returns how many it marked.
// KEYS: this node's users set. ARGV: key prefix, this node's id, then user ids.
const REASSERT = `
local marked = 0
for i = 3, #ARGV do
  local key = ARGV[1] .. 'user:' .. ARGV[i]
  if redis.call('EXISTS', key) == 0 then
    redis.call('SET', key, ARGV[2])
    redis.call('SADD', KEYS[1], ARGV[i])
    marked = marked + 1
  end
end
return marked`;
const REASSERT_BATCH = 1000;
/** How long a node seen alive is trusted to be, well inside the liveness TTL. */
const ALIVE_CACHE_MS = 500;

export interface RedisPresenceOptions {
  client: RedisClient;
  keys: RedisKeys;
  nodeId: string;
  livenessTtlMs: number;
  warn: Warn;
  /** Called once when the presence no longer needs `client`. */
  releaseClient: () => Promise<void>;
}

export class RedisPresence implements Presence {
  readonly nodeId: string;
  readonly #options: RedisPresenceOptions;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #closed = false;
  /** Users whose release failed (Redis away); retried by the heartbeat and before a claim. */
  readonly #unreleased = new Set<number>();
  /** Users claimed here and not released since; the heartbeat keeps them marked online. */
  readonly #held = new Set<number>();
  readonly #recoveryListeners: RecoveryListener[] = [];
  /** Nodes seen alive, until when that is trusted without asking Redis again. */
  readonly #seenAlive = new Map<string, number>();

  /** Marks the node alive, then keeps it alive with a heartbeat every third of the TTL. */
  static async start(options: RedisPresenceOptions): Promise<RedisPresence> {
    await storage("heartbeat", () => markAlive(options));
    return new RedisPresence(options);
  }

  private constructor(options: RedisPresenceOptions) {
    this.nodeId = options.nodeId;
    this.#options = options;
    const period = Math.max(1, Math.floor(options.livenessTtlMs / 3));
    this.#heartbeat = setInterval(() => this.#beat(), period);
  }

  async claim(userId: number): Promise<boolean> {
    if (this.#unreleased.has(userId)) await this.#releaseNow(userId);
    const { keys, nodeId, livenessTtlMs } = this.#options;
    const claimed = await this.#eval("claim", CLAIM, {
      keys: [keys.user(userId), keys.users(nodeId), keys.alive(nodeId)],
      arguments: [keys.prefix, nodeId, String(userId), String(livenessTtlMs)],
    });
    if (claimed === 1) this.#held.add(userId);
    return claimed === 1;
  }

  /** Releases the user; if Redis is away, keeps retrying in the background (and throws). */
  async release(userId: number): Promise<void> {
    this.#held.delete(userId);
    try {
      await this.#releaseNow(userId);
    } catch (error) {
      this.#unreleased.add(userId);
      throw error;
    }
  }

  async #releaseNow(userId: number): Promise<void> {
    const { keys, nodeId } = this.#options;
    await this.#eval("release", RELEASE, {
      keys: [keys.user(userId), keys.users(nodeId)],
      arguments: [nodeId, String(userId)],
    });
    this.#unreleased.delete(userId);
  }

  async locate(userIds: readonly number[]): Promise<Map<number, string>> {
    const found = new Map<number, string>();
    if (userIds.length === 0) return found;
    const { client, keys } = this.#options;
    const holders = await storage("locate", () => client.mGet(userIds.map((id) => keys.user(id))));
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
    const now = Date.now();
    const live = new Set(nodes.filter((node) => (this.#seenAlive.get(node) ?? 0) > now));
    const unknown = nodes.filter((node) => !live.has(node));
    if (unknown.length === 0) return live;
    const { client, keys } = this.#options;
    const alive = await storage(
      "locate",
      () => client.mGet(unknown.map((node) => keys.alive(node))),
    );
    unknown.forEach((node, i) => {
      if (alive[i] === null) return void this.#seenAlive.delete(node);
      live.add(node);
      this.#seenAlive.set(node, now + ALIVE_CACHE_MS);
    });
    return live;
  }

  onRecovered(listener: RecoveryListener): void {
    this.#recoveryListeners.push(listener);
  }

  async clearStale(): Promise<void> {
    await this.#forget(this.#options.livenessTtlMs);
  }

  async ping(): Promise<boolean> {
    try {
      return await this.#options.client.ping() === "PONG";
    } catch {
      return false;
    }
  }

  /** Stops the heartbeat and marks this node and its users offline (best effort). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#recoveryListeners.length = 0;
    try {
      await this.#forget(0);
    } catch (error) {
      this.#options.warn(`${messageOf(error)}; its users lapse with the liveness TTL`);
    }
    await this.#options.releaseClient();
  }

  #beat(): void {
    // An outage is reported by the connection itself; the next beat retries.
    markAlive(this.#options).catch(() => {});
    this.#reassert().catch(() => {});
    for (const userId of this.#unreleased) this.#releaseNow(userId).catch(() => {});
  }

  async #reassert(): Promise<void> {
    const { keys, nodeId } = this.#options;
    const held = [...this.#held];
    let marked = 0;
    for (let start = 0; start < held.length; start += REASSERT_BATCH) {
      // Filtered right before the call, so a release issued meanwhile is not undone.
      const ids = held.slice(start, start + REASSERT_BATCH).filter((id) => this.#held.has(id));
      marked += Number(
        await this.#eval("re-marking users", REASSERT, {
          keys: [keys.users(nodeId)],
          arguments: [keys.prefix, nodeId, ...ids.map(String)],
        }),
      );
    }
    if (marked > 0 && !this.#closed) this.#recovered();
  }

  #recovered(): void {
    for (const listener of this.#recoveryListeners) {
      try {
        listener();
      } catch (error) {
        this.#options.warn(`presence recovery listener failed: ${messageOf(error)}`);
      }
    }
  }

  async #forget(ttlMs: number): Promise<void> {
    const { keys, nodeId } = this.#options;
    await this.#eval("clearing presence", FORGET, {
      keys: [keys.users(nodeId), keys.alive(nodeId)],
      arguments: [keys.prefix, nodeId, String(ttlMs)],
    });
  }

  #eval(action: string, script: string, args: { keys: string[]; arguments: string[] }) {
    return storage(action, () => this.#options.client.eval(script, args));
  }
}

function markAlive({ client, keys, nodeId, livenessTtlMs }: RedisPresenceOptions) {
  return client.set(keys.alive(nodeId), "1", { expiration: { type: "PX", value: livenessTtlMs } });
}
