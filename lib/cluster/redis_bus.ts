// The cluster bus on Redis pub/sub: one channel per node (`<prefix>bus:{<nodeId>}`) carrying
// bus messages as text (lib/cluster/bus_codec.ts). What is published to one node in one burst of
// synchronous work (until the microtask queue drains: the messages of one store batch, say) goes
// as one Redis message, a batch when there are several, so a busy server issues a PUBLISH per
// node per burst rather than per push, without waiting a turn. The transport is plain pub/sub on
// a single Redis and sharded pub/sub on a Redis Cluster (lib/cluster/redis_pubsub.ts); when it
// reports that messages may have been lost (a reconnect, a failover), recovery listeners hear it.

import { decodeBusMessages, encodeBusMessages } from "./bus_codec.ts";
import type { Bus, BusMessage, EnvelopeHandler, RecoveryListener } from "./types.ts";
import { messageOf, type Warn } from "./redis_client.ts";
import type { RedisKeys } from "./redis_keys.ts";
import type { PubSub } from "./redis_pubsub.ts";

export interface RedisBusOptions {
  pubsub: PubSub;
  keys: RedisKeys;
  warn: Warn;
  /** Called once when the bus no longer needs the router its transport publishes through. */
  releaseRouter: () => Promise<void>;
}

/** Most bus messages in one PUBLISH: a burst larger than this goes in several, in order. */
export const BUS_BATCH_MAX = 128;

/** Messages published to one node in this burst, and their callers. */
interface Outgoing {
  messages: BusMessage[];
  callers: { resolve: (heard: boolean) => void; reject: (error: unknown) => void }[];
}

export class RedisBus implements Bus {
  readonly #options: RedisBusOptions;
  readonly #handlers = new Map<string, EnvelopeHandler>();
  /** This burst's messages, by node. */
  #outgoing = new Map<string, Outgoing>();
  readonly #recoveryListeners: RecoveryListener[] = [];
  #closed = false;

  constructor(options: RedisBusOptions) {
    this.#options = options;
    options.pubsub.onRecovered(() => this.#recovered());
  }

  onRecovered(listener: RecoveryListener): void {
    this.#recoveryListeners.push(listener);
  }

  async subscribe(nodeId: string, handler: EnvelopeHandler): Promise<void> {
    const subscribed = this.#handlers.has(nodeId);
    this.#handlers.set(nodeId, handler);
    if (subscribed) return;
    const { pubsub, keys } = this.#options;
    try {
      await pubsub.subscribe(keys.channel(nodeId), (message) => this.#receive(nodeId, message));
    } catch (error) {
      this.#handlers.delete(nodeId);
      throw error;
    }
  }

  /** Queues the message for this burst's PUBLISH to the node; resolves as that PUBLISH does. */
  publish(nodeId: string, busMessage: BusMessage): Promise<boolean> {
    const { promise, resolve, reject } = Promise.withResolvers<boolean>();
    let outgoing = this.#outgoing.get(nodeId);
    if (!outgoing) {
      if (this.#outgoing.size === 0) queueMicrotask(() => this.#flush());
      outgoing = { messages: [], callers: [] };
      this.#outgoing.set(nodeId, outgoing);
    }
    outgoing.messages.push(busMessage);
    outgoing.callers.push({ resolve, reject });
    if (outgoing.messages.length >= BUS_BATCH_MAX) {
      this.#outgoing.delete(nodeId);
      this.#send(nodeId, outgoing);
    }
    return promise;
  }

  #flush(): void {
    const outgoing = this.#outgoing;
    this.#outgoing = new Map();
    for (const [nodeId, batch] of outgoing) this.#send(nodeId, batch);
  }

  #send(nodeId: string, { messages, callers }: Outgoing): void {
    const { pubsub, keys } = this.#options;
    pubsub.publish(keys.channel(nodeId), encodeBusMessages(messages)).then(
      (receivers) => callers.forEach((caller) => caller.resolve(receivers > 0)),
      (error) => callers.forEach((caller) => caller.reject(error)),
    );
  }

  /** Unsubscribes (so publishers see no receiver from now on) and closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#flush();
    this.#handlers.clear();
    this.#recoveryListeners.length = 0;
    await this.#options.pubsub.close();
    await this.#options.releaseRouter();
  }

  #recovered(): void {
    if (this.#closed) return;
    for (const listener of this.#recoveryListeners) {
      try {
        listener();
      } catch (error) {
        this.#options.warn(`bus recovery listener failed: ${messageOf(error)}`);
      }
    }
  }

  #receive(nodeId: string, message: string): void {
    const handler = this.#handlers.get(nodeId);
    for (const envelope of decodeBusMessages(message)) {
      if (!envelope) {
        this.#options.warn(
          `ignored a malformed envelope for node ${nodeId}: ${message.slice(0, 200)}`,
        );
      } else if (handler) {
        this.#deliver(nodeId, handler, envelope);
      }
    }
  }

  /** Calls the handler; a failure (thrown or rejected) is reported, never left unhandled. */
  async #deliver(nodeId: string, handler: EnvelopeHandler, envelope: BusMessage): Promise<void> {
    try {
      await handler(envelope);
    } catch (error) {
      this.#options.warn(`envelope handler for node ${nodeId} failed: ${messageOf(error)}`);
    }
  }
}
