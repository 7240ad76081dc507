// Publish/subscribe as the Redis bus needs it, on a single Redis: PUBLISH through the node's
// command connection, SUBSCRIBE on a connection of its own, which node-redis subscribes again
// after every reconnect. (On a Redis Cluster: lib/cluster/redis_sharded_pubsub.ts.)

import { closeRedisClient, type RedisClient, storage, type Warn } from "./redis_client.ts";
import { notifyAll, type RedisRouter } from "./redis_router.ts";
import type { RecoveryListener } from "./types.ts";

export interface PubSub {
  /** Publishes `text` on `channel`; resolves with how many subscribers received it. */
  publish(channel: string, text: string): Promise<number>;
  /** Calls `listener` with every text published on `channel` from now on, until close. */
  subscribe(channel: string, listener: (text: string) => void): Promise<void>;
  /**
   * Calls `listener` each time subscriptions are in place again after a loss, or publishing
   * works again: what was published meanwhile may have been lost.
   */
  onRecovered(listener: RecoveryListener): void;
  /** Ends the subscriptions (publishers then reach no one) and closes their connection. */
  close(): Promise<void>;
}

export class PlainPubSub implements PubSub {
  readonly #router: RedisRouter;
  readonly #subscriber: RedisClient;
  readonly #warn: Warn;
  readonly #listeners: RecoveryListener[] = [];
  #closed = false;

  /** `subscriber` is connected: each later "ready" is a reconnect, after its resubscription. */
  constructor(router: RedisRouter, subscriber: RedisClient, warn: Warn) {
    this.#router = router;
    this.#subscriber = subscriber;
    this.#warn = warn;
    subscriber.on("ready", () => this.#recovered());
    router.onRestored(() => this.#recovered());
  }

  publish(channel: string, text: string): Promise<number> {
    return this.#router.run("publish", channel, (client) => client.publish(channel, text));
  }

  subscribe(channel: string, listener: (text: string) => void): Promise<void> {
    return storage("subscribe", () => this.#subscriber.subscribe(channel, listener));
  }

  onRecovered(listener: RecoveryListener): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.length = 0;
    if (this.#subscriber.isReady) await this.#subscriber.unsubscribe().catch(() => {});
    await closeRedisClient(this.#subscriber);
  }

  #recovered(): void {
    if (!this.#closed) notifyAll(this.#listeners, this.#warn, "bus recovery listener");
  }
}
