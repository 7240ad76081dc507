// The router of a Redis Cluster: which master owns each of the 16384 hash slots (from CLUSTER
// SLOTS, asked of a known node or a seed), and one command connection per master. A command goes
// to its key's master; a MOVED or ASK reply makes the router read the slots again and retry once;
// a command unanswered for 3 s fails (a hung master keeps its connection open), and its master is
// asked for the slots last until it answers again.
// Listeners hear of every reconnect and every slot that changed master, with the slots concerned.
// A lost connection or CLUSTERDOWN makes it read them again soon, and again (250 ms doubling to
// 2 s) until every master answers: that is how a failover is noticed, since a dead master sends
// no MOVED. The slots are also read every 5 s, to follow a manual failover or a resharding.
//
// Why not node-redis's createCluster: in 5.9 it reads the slots only after MOVED/ASK, so after a
// master is killed its client keeps retrying the dead address (node-redis issue #2806), and when
// it does rediscover, the sharded subscriptions of a master that left are dropped without a word.
// Both are exactly the failover this router exists for; the rest (routing, MOVED) is small.

import calculateSlot from "cluster-key-slot";
import { StorageError } from "../errors.ts";
import {
  answeredWithin,
  closeRedisClient,
  createRedisClient,
  destroyRedisClient,
  messageOf,
  type RedisClient,
  type Warn,
} from "./redis_client.ts";
import { notifyAll, type RedisRouter, type RestoredListener } from "./redis_router.ts";

export interface ClusterAddress {
  host: string;
  port: number;
}

const SLOTS = 16_384;
const REFRESH_MS = 5_000;
const HEAL_FIRST_MS = 250;
const HEAL_MAX_MS = 2_000;

export class ClusterRouter implements RedisRouter {
  readonly #seeds: readonly ClusterAddress[];
  readonly #name: string;
  readonly #warn: Warn;
  /** The master address ("host:port") owning each slot; "" while unknown. */
  #owners: string[] = new Array(SLOTS).fill("");
  /** The command connection of each master. */
  readonly #clients = new Map<string, RedisClient>();
  readonly #listeners: RestoredListener[] = [];
  /** Masters that left a command unanswered: asked for the slots last, until one answers. */
  readonly #unanswering = new Set<string>();
  #refreshing: Promise<boolean> | null = null;
  #lastError: unknown;
  readonly #periodic: ReturnType<typeof setInterval>;
  #healTimer: ReturnType<typeof setTimeout> | undefined;
  #healDelayMs = HEAL_FIRST_MS;
  #closed = false;

  private constructor(seeds: readonly ClusterAddress[], name: string, warn: Warn) {
    this.#seeds = seeds;
    this.#name = name;
    this.#warn = warn;
    this.#periodic = setInterval(() => void this.refresh(), REFRESH_MS);
  }

  /** Reads the slots from a seed and connects to every master; StorageError if it cannot. */
  static async connect(
    seeds: readonly ClusterAddress[],
    name: string,
    warn: Warn,
  ): Promise<ClusterRouter> {
    const router = new ClusterRouter(seeds, name, warn);
    try {
      if (!await router.refresh()) throw router.#lastError;
      await Promise.all([...router.#clients.values()].map(readyOrError));
      return router;
    } catch (error) {
      await router.close();
      const seedList = seeds.map(addressOf).join(",");
      const detail = `cannot connect to the Redis Cluster at ${seedList}: ${messageOf(error)}`;
      throw new StorageError(detail, { cause: error, backend: "cluster" });
    }
  }

  slotOf(key: string): number {
    return calculateSlot(key);
  }

  /** The address of the master owning `key`'s slot, or undefined while unknown. */
  masterOf(key: string): ClusterAddress | undefined {
    const owner = this.#owners[calculateSlot(key)];
    return owner ? parseAddress(owner) : undefined;
  }

  async run<T>(
    action: string,
    key: string,
    command: (client: RedisClient) => Promise<T>,
  ): Promise<T> {
    try {
      try {
        return await this.#runOn(key, command);
      } catch (error) {
        if (!/^(MOVED|ASK) /.test(messageOf(error))) throw error;
        await this.refresh();
        return await this.#runOn(key, command);
      }
    } catch (error) {
      this.#healSoon();
      throw new StorageError(`Redis ${action} failed: ${messageOf(error)}`, {
        cause: error,
        backend: "cluster",
      });
    }
  }

  async ping(): Promise<boolean> {
    const clients = [...this.#clients.values()];
    try {
      const answers = await Promise.all(clients.map((client) => answeredWithin(client.ping())));
      return clients.length > 0 && answers.every((answer) => answer === "PONG");
    } catch {
      return false;
    }
  }

  onRestored(listener: RestoredListener): void {
    this.#listeners.push(listener);
  }

  /** Reads the slots again (one reading at a time); false when no node could be asked. */
  refresh(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    return this.#refreshing ??= this.#discover().finally(() => this.#refreshing = null);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#periodic);
    clearTimeout(this.#healTimer);
    this.#listeners.length = 0;
    await this.#refreshing;
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.all(clients.map(closeRedisClient));
  }

  /** Runs `command` on the master of `key`'s slot; one that does not answer is suspected. */
  async #runOn<T>(key: string, command: (client: RedisClient) => Promise<T>): Promise<T> {
    const slot = calculateSlot(key);
    const address = this.#owners[slot];
    const client = this.#clients.get(address);
    if (!client) throw new Error(`no known master serves hash slot ${slot}`);
    try {
      const result = await answeredWithin(command(client));
      this.#unanswering.delete(address);
      return result;
    } catch (error) {
      if (/^no answer within/.test(messageOf(error))) this.#unanswering.add(address);
      throw error;
    }
  }

  async #discover(): Promise<boolean> {
    const known = [...this.#clients].filter(([, client]) => client.isReady).map(([at]) => at);
    const everyone = [...new Set([...known, ...this.#seeds.map(addressOf)])];
    const candidates = [
      ...everyone.filter((address) => !this.#unanswering.has(address)),
      ...everyone.filter((address) => this.#unanswering.has(address)),
    ];
    for (const address of candidates) {
      try {
        this.#apply(await this.#askSlots(address));
        this.#checkHealth();
        return true;
      } catch (error) {
        this.#lastError = error;
      }
    }
    this.#healSoon();
    return false;
  }

  /** CLUSTER SLOTS from the node at `address`, through its connection if it has a ready one. */
  async #askSlots(address: string) {
    const existing = this.#clients.get(address);
    if (existing?.isReady) return await answeredWithin(existing.clusterSlots());
    const probe = createRedisClient(parseAddress(address), `${this.#name}-probe`, this.#warn, {
      reconnect: false,
    });
    try {
      await answeredWithin(probe.connect());
      return await answeredWithin(probe.clusterSlots());
    } finally {
      destroyRedisClient(probe);
    }
  }

  /** Takes a reading of the slots: connects to new masters, drops former ones. */
  #apply(shards: Awaited<ReturnType<RedisClient["clusterSlots"]>>): void {
    if (this.#closed) return;
    const owners: string[] = new Array(SLOTS).fill("");
    for (const { from, to, master } of shards) {
      const address = addressOf(master);
      for (let slot = from; slot <= to; slot++) owners[slot] = address;
    }
    const first = this.#owners.every((owner) => owner === "");
    const moved = new Set<number>();
    if (!first) owners.forEach((owner, slot) => owner !== this.#owners[slot] && moved.add(slot));
    this.#owners = owners;
    const masters = new Set(owners.filter((owner) => owner !== ""));
    for (const [address, client] of this.#clients) {
      if (masters.has(address)) continue;
      this.#clients.delete(address);
      this.#unanswering.delete(address);
      void closeRedisClient(client).catch(() => {});
    }
    const connecting: Promise<void>[] = [];
    for (const address of masters) {
      if (!this.#clients.has(address)) connecting.push(this.#connectTo(address));
    }
    if (moved.size === 0) return;
    // Told once the new masters can be used (or failed to connect), so listeners can act at once.
    void Promise.all(connecting).then(() => {
      if (!this.#closed) {
        notifyAll(this.#listeners, this.#warn, "Redis Cluster failover listener", moved);
      }
    });
  }

  /** Connects to a master; resolves when connected or failed (then healing retries). */
  #connectTo(address: string): Promise<void> {
    const client = createRedisClient(parseAddress(address), `${this.#name}@${address}`, this.#warn);
    this.#clients.set(address, client);
    let wasReady = false;
    client.on("ready", () => {
      if (wasReady && !this.#closed) {
        const served = new Set<number>();
        this.#owners.forEach((owner, slot) => owner === address && served.add(slot));
        notifyAll(this.#listeners, this.#warn, "Redis reconnect listener", served);
      }
      wasReady = true;
    });
    client.on("error", () => this.#healSoon());
    return client.connect().then(() => {}, () => this.#healSoon());
  }

  /** While some master does not answer, reads the slots again with a growing delay. */
  #checkHealth(): void {
    const healthy = this.#owners.every((owner) => this.#clients.get(owner)?.isReady);
    if (healthy) {
      this.#healDelayMs = HEAL_FIRST_MS;
      return;
    }
    this.#healSoon();
  }

  #healSoon(): void {
    if (this.#closed || this.#healTimer !== undefined) return;
    const delay = this.#healDelayMs;
    this.#healDelayMs = Math.min(delay * 2, HEAL_MAX_MS);
    this.#healTimer = setTimeout(() => {
      this.#healTimer = undefined;
      void this.refresh();
    }, delay);
  }
}

/** Resolves once the connection is ready; rejects at its first error before that. */
function readyOrError(client: RedisClient): Promise<void> {
  if (client.isReady) return Promise.resolve();
  return new Promise((resolve, reject) => {
    client.once("ready", resolve);
    client.once("error", reject);
  });
}

function addressOf({ host, port }: ClusterAddress): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function parseAddress(address: string): ClusterAddress {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(address.slice(colon + 1)) };
}
