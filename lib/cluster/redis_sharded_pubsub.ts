// Publish/subscribe on a Redis Cluster with sharded channels (Redis 7): SPUBLISH goes to the
// master owning the channel's slot and reaches only that shard, where SSUBSCRIBE listens, instead
// of being broadcast to every node as PUBLISH is in a cluster. Each subscription has a connection
// of its own to the channel's master; when that connection is lost or the slot gets another
// master (a failover, seen by the router), the subscription moves to the current master, retrying
// with backoff (100 ms doubling to 2 s) until it is in place, and recovery listeners hear of it.

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
import type { ClusterAddress, ClusterRouter } from "./redis_cluster_router.ts";
import type { PubSub } from "./redis_pubsub.ts";
import { notifyAll } from "./redis_router.ts";
import type { RecoveryListener } from "./types.ts";

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 2_000;

interface Subscription {
  listener: (text: string) => void;
  /** The connection subscribed now, and the master it is on. */
  client?: RedisClient;
  address?: string;
  retryTimer?: ReturnType<typeof setTimeout>;
  retryDelayMs: number;
}

export class ShardedPubSub implements PubSub {
  readonly #router: ClusterRouter;
  readonly #name: string;
  readonly #warn: Warn;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #listeners: RecoveryListener[] = [];
  #closed = false;

  constructor(router: ClusterRouter, name: string, warn: Warn) {
    this.#router = router;
    this.#name = name;
    this.#warn = warn;
    router.onRestored(() => {
      this.#followMasters();
      this.#recovered();
    });
  }

  publish(channel: string, text: string): Promise<number> {
    return this.#router.run("publish", channel, (client) => client.sPublish(channel, text));
  }

  async subscribe(channel: string, listener: (text: string) => void): Promise<void> {
    if (this.#subscriptions.has(channel)) throw new Error(`already subscribed to ${channel}`);
    const subscription: Subscription = { listener, retryDelayMs: RETRY_FIRST_MS };
    this.#subscriptions.set(channel, subscription);
    try {
      await this.#attach(channel, subscription);
    } catch (error) {
      this.#subscriptions.delete(channel);
      throw new StorageError(`Redis subscribe failed: ${messageOf(error)}`, {
        cause: error,
        backend: "cluster",
      });
    }
  }

  onRecovered(listener: RecoveryListener): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.length = 0;
    const subscriptions = [...this.#subscriptions];
    this.#subscriptions.clear();
    await Promise.all(subscriptions.map(async ([channel, subscription]) => {
      clearTimeout(subscription.retryTimer);
      const client = subscription.client;
      subscription.client = undefined;
      if (!client) return;
      if (client.isReady) await client.sUnsubscribe(channel).catch(() => {});
      await closeRedisClient(client);
    }));
  }

  /** Subscribes on the master owning the channel now, on a fresh connection. */
  async #attach(channel: string, subscription: Subscription): Promise<void> {
    const master = this.#router.masterOf(channel);
    if (!master) throw new Error(`no known master serves ${channel}`);
    const address = `${master.host}:${master.port}`;
    const client = this.#connection(master);
    const lost = () => {
      if (subscription.client === client) this.#moveSoon(channel, subscription);
    };
    client.on("error", lost);
    client.on("end", lost);
    try {
      await answeredWithin(client.connect());
      await answeredWithin(client.sSubscribe(channel, (text) => subscription.listener(text)));
    } catch (error) {
      destroyRedisClient(client);
      throw error;
    }
    if (this.#closed || this.#subscriptions.get(channel) !== subscription) {
      destroyRedisClient(client);
      return;
    }
    subscription.client = client;
    subscription.address = address;
  }

  #connection(master: ClusterAddress): RedisClient {
    return createRedisClient(master, `${this.#name}-bus`, this.#warn, { reconnect: false });
  }

  /** Moves every subscription whose channel now has another master. */
  #followMasters(): void {
    for (const [channel, subscription] of this.#subscriptions) {
      const master = this.#router.masterOf(channel);
      const address = master && `${master.host}:${master.port}`;
      if (subscription.client && address !== subscription.address) {
        this.#moveSoon(channel, subscription);
      }
    }
  }

  #moveSoon(channel: string, subscription: Subscription): void {
    const old = subscription.client;
    if (old && !this.#closed) {
      this.#warn(`bus subscription ${channel} on ${subscription.address} lost; resubscribing`);
    }
    subscription.client = undefined;
    subscription.address = undefined;
    if (old) void closeRedisClient(old).catch(() => {});
    if (this.#closed || subscription.retryTimer !== undefined) return;
    const delay = subscription.retryDelayMs;
    subscription.retryDelayMs = Math.min(delay * 2, RETRY_MAX_MS);
    subscription.retryTimer = setTimeout(async () => {
      subscription.retryTimer = undefined;
      try {
        await this.#router.refresh();
        await this.#attach(channel, subscription);
      } catch {
        // The connection's failure is the outage already reported; retry with a longer delay.
        return this.#moveSoon(channel, subscription);
      }
      if (this.#closed || subscription.client === undefined) return;
      subscription.retryDelayMs = RETRY_FIRST_MS;
      this.#warn(`bus subscription ${channel} restored on ${subscription.address}`);
      this.#recovered();
    }, delay);
  }

  #recovered(): void {
    if (!this.#closed) notifyAll(this.#listeners, this.#warn, "bus recovery listener");
  }
}
