// Cluster presence on Redis. `user:<id>` names the node a user is on, `node:{<node>}:users` lists
// the users a node holds and `node:{<node>}:alive` exists while the node's heartbeat refreshes it.
// A user is online iff their user key names a node whose alive key exists, so a killed node's
// users lapse within one liveness TTL with no per-user refresh. Every script touches one user's
// key or one node's keys (one hash slot), passed in KEYS, so the same code runs on a single Redis
// and on a Redis Cluster (lib/cluster/redis_router.ts); what spans a user and a node (a claim, a
// release) is a short sequence whose every prefix is safe, with a compare-and-set on the user key.
//
// Lost writes are noticed in O(1) per heartbeat rather than by checking every user: the beat
// refreshes the alive key only if it still exists (SET XX), so a Redis that restarted empty, was
// flushed or failed over without it says so; and the router reports every reconnect and every
// change of master, after which the last writes to that shard may be gone. Either way the node
// repairs what it knows (redis_presence_repair.ts). Where users are is read by redis_locate.ts,
// presence epochs live in redis_epochs.ts, and the watch for other nodes' ends in
// redis_node_watch.ts.

import type { NodeGoneListener, Presence, RecoveryListener } from "./types.ts";
import { messageOf, type RedisClient, type Warn } from "./redis_client.ts";
import type { RedisKeys } from "./redis_keys.ts";
import { nextEpoch, readEpochs } from "./redis_epochs.ts";
import { NODE_WATCH_MS, RedisNodeWatch } from "./redis_node_watch.ts";
import { PresenceRepair } from "./redis_presence_repair.ts";
import { RedisLocator } from "./redis_locate.ts";
import { inWaves, type RedisRouter } from "./redis_router.ts";
import {
  BEAT,
  DROP_IF_MINE,
  FORGET_NODE,
  TAKE_IF_FREE,
  TAKE_OVER,
} from "./redis_presence_scripts.ts";

/** Users handled per wave when a node forgets all of its users. */
const WAVE = 1000;
/** Claim attempts when others keep changing the user key in between. */
const CLAIM_ATTEMPTS = 3;

export interface RedisPresenceOptions {
  router: RedisRouter;
  keys: RedisKeys;
  nodeId: string;
  livenessTtlMs: number;
  /** How often other nodes are checked for having gone; NODE_WATCH_MS by default. */
  nodeWatchMs?: number;
  warn: Warn;
  /** Called once when the presence no longer needs the router. */
  releaseRouter: () => Promise<void>;
  /** The clock (ms since the epoch); default Date.now. */
  now?: () => number;
}

export class RedisPresence implements Presence {
  readonly nodeId: string;
  readonly #options: RedisPresenceOptions;
  readonly #now: () => number;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #closed = false;
  /** Users whose release failed (Redis away); retried by the heartbeat and before a claim. */
  readonly #unreleased = new Set<number>();
  /** Users claimed here and not released since; a repair marks them online again. */
  readonly #held = new Set<number>();
  /** Per user, the end of the claim or release under way here (only while one is). */
  readonly #inFlight = new Map<number, Promise<void>>();
  readonly #repair: PresenceRepair;
  readonly #locator: RedisLocator;
  readonly #nodeWatch: RedisNodeWatch;

  /** Marks the node alive, then keeps it alive with a heartbeat every third of the TTL. */
  static async start(options: RedisPresenceOptions): Promise<RedisPresence> {
    const { router, keys, nodeId, livenessTtlMs } = options;
    await router.run(
      "heartbeat",
      keys.alive(nodeId),
      (client) =>
        client.eval(BEAT, { keys: [keys.alive(nodeId)], arguments: [String(livenessTtlMs)] }),
    );
    return new RedisPresence(options);
  }

  private constructor(options: RedisPresenceOptions) {
    this.nodeId = options.nodeId;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const period = Math.max(1, Math.floor(options.livenessTtlMs / 3));
    this.#locator = new RedisLocator(options.router, options.keys, this.#now);
    this.#repair = new PresenceRepair({
      router: options.router,
      keys: options.keys,
      nodeId: options.nodeId,
      warn: options.warn,
      now: this.#now,
      held: this.#held,
      refreshAlive: () => this.#refreshAlive(),
      releaseAgain: (userId) =>
        this.#oneAtATime(userId, async () => {
          if (!this.#held.has(userId)) await this.#releaseNow(userId);
        }),
    });
    this.#heartbeat = setInterval(() => this.#beat(), period);
    options.router.onRestored((slots) => this.#repair.soon(slots));
    this.#nodeWatch = new RedisNodeWatch({
      router: options.router,
      keys: options.keys,
      nodeId: options.nodeId,
      periodMs: options.nodeWatchMs ?? NODE_WATCH_MS,
      warn: options.warn,
      now: this.#now,
    });
  }

  claim(userId: number): Promise<boolean> {
    return this.#oneAtATime(userId, async () => {
      try {
        return await this.#claim(userId);
      } catch (error) {
        // The take may have happened with its answer lost: undone by the heartbeat's retry.
        if (!this.#held.has(userId)) this.#unreleased.add(userId);
        throw error;
      }
    });
  }

  async #claim(userId: number): Promise<boolean> {
    if (this.#unreleased.has(userId)) await this.#releaseNow(userId);
    const { keys, nodeId } = this.#options;
    // Listed first, so a node that dies right after the take still finds the user at restart.
    await this.#run(
      "claim",
      keys.users(nodeId),
      (client) => client.sAdd(keys.users(nodeId), String(userId)),
    );
    const userKey = keys.user(userId);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const taken = await this.#eval("claim", TAKE_IF_FREE, userKey, [nodeId]);
      if (taken === 1) return this.#claimed(userId);
      const holder = String(taken);
      if (await this.#isAlive(holder)) break;
      if (await this.#eval("claim", TAKE_OVER, userKey, [holder, nodeId]) === 1) {
        return this.#claimed(userId);
      }
    }
    if (!this.#held.has(userId)) {
      await this.#run(
        "claim",
        keys.users(nodeId),
        (client) => client.sRem(keys.users(nodeId), String(userId)),
      );
    }
    return false;
  }

  #claimed(userId: number): true {
    this.#held.add(userId);
    this.#repair.claimed(userId);
    return true;
  }

  /** Releases the user; if Redis is away, keeps retrying in the background (and throws). */
  release(userId: number): Promise<void> {
    this.#held.delete(userId);
    this.#repair.released(userId);
    return this.#oneAtATime(userId, async () => {
      try {
        await this.#releaseNow(userId);
      } catch (error) {
        this.#unreleased.add(userId);
        throw error;
      }
    });
  }

  /**
   * Runs the claims and releases of one user on this node one at a time: each is a sequence of
   * commands on two slots (the user's key, this node's set), and interleaving a claim with a
   * release could leave the key naming this node with the user missing from its set, where a
   * restart of the node would not find them.
   */
  #oneAtATime<T>(userId: number, task: () => Promise<T>): Promise<T> {
    const before = this.#inFlight.get(userId) ?? Promise.resolve();
    const result = before.then(task);
    const settled = result.then(() => {}, () => {});
    this.#inFlight.set(userId, settled);
    void settled.then(() => {
      if (this.#inFlight.get(userId) === settled) this.#inFlight.delete(userId);
    });
    return result;
  }

  async #releaseNow(userId: number): Promise<void> {
    const { keys, nodeId } = this.#options;
    await this.#eval("release", DROP_IF_MINE, keys.user(userId), [nodeId]);
    await this.#run(
      "release",
      keys.users(nodeId),
      (client) => client.sRem(keys.users(nodeId), String(userId)),
    );
    this.#unreleased.delete(userId);
  }

  locate(userIds: readonly number[]): Promise<Map<number, string>> {
    return this.#locator.locate(userIds);
  }

  async #isAlive(nodeId: string): Promise<boolean> {
    const aliveKey = this.#options.keys.alive(nodeId);
    return await this.#run("claim", aliveKey, (client) => client.exists(aliveKey)) === 1;
  }

  nextEpoch(userId: number): Promise<number> {
    return nextEpoch(this.#options.router, this.#options.keys, userId, this.#now());
  }

  epochs(userIds: readonly number[]): Promise<Map<number, number>> {
    return readEpochs(this.#options.router, this.#options.keys, userIds);
  }

  onRecovered(listener: RecoveryListener): void {
    this.#repair.onRepaired(listener);
  }

  onNodeGone(listener: NodeGoneListener): void {
    this.#nodeWatch.onGone(listener);
  }

  async clearStale(): Promise<void> {
    await this.#forget(this.#options.livenessTtlMs);
    await this.#nodeWatch.announce();
  }

  ping(): Promise<boolean> {
    return this.#options.router.ping();
  }

  /** Stops the heartbeat and marks this node and its users offline (best effort). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#nodeWatch.stop();
    await this.#repair.close();
    try {
      await this.#forget(0);
      await this.#nodeWatch.close();
    } catch (error) {
      this.#options.warn(`${messageOf(error)}; its users lapse with the liveness TTL`);
    }
    await this.#options.releaseRouter();
  }

  #beat(): void {
    // An outage is reported by the connection itself; the next beat retries.
    this.#refreshAlive().then((present) => {
      if (!present) this.#repair.soon(null);
      else this.#repair.retryIfDue();
    }, () => {});
    for (const userId of this.#unreleased) {
      this.#oneAtATime(userId, () => this.#releaseNow(userId)).catch(() => {});
    }
  }

  /** Refreshes the alive key; false when it had vanished (Redis lost this node's keys). */
  async #refreshAlive(): Promise<boolean> {
    const { keys, nodeId, livenessTtlMs } = this.#options;
    return await this.#eval("heartbeat", BEAT, keys.alive(nodeId), [String(livenessTtlMs)]) === 1;
  }

  /** Drops every user this node holds, then marks the node alive (TTL > 0) or gone (TTL 0). */
  async #forget(ttlMs: number): Promise<void> {
    const { keys, nodeId } = this.#options;
    const usersKey = keys.users(nodeId);
    const members = await this.#run(
      "clearing presence",
      usersKey,
      (client) => client.sMembers(usersKey),
    );
    await inWaves(
      members,
      WAVE,
      (id) => this.#eval("clearing presence", DROP_IF_MINE, keys.user(Number(id)), [nodeId]),
    );
    await this.#run("clearing presence", usersKey, (client) =>
      client.eval(FORGET_NODE, {
        keys: [usersKey, keys.alive(nodeId)],
        arguments: [String(ttlMs)],
      }));
  }

  /** Runs a script on one key's slot. */
  #eval(action: string, script: string, key: string, args: string[]) {
    return this.#run(
      action,
      key,
      (client) => client.eval(script, { keys: [key], arguments: args }),
    );
  }

  #run<T>(action: string, key: string, command: (client: RedisClient) => Promise<T>): Promise<T> {
    return this.#options.router.run(action, key, command);
  }
}
