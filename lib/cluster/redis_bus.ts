// The cluster bus on Redis pub/sub: one channel per node (`<prefix>node:<nodeId>`) carrying
// envelopes as JSON. What is published to one node in one burst of synchronous work (until the
// microtask queue drains: the messages of one store batch, say) goes as one Redis message,
// `{"batch": [...]}` when there are several, so a busy server issues a PUBLISH per node per burst
// rather than per push, without waiting a turn. Publishing goes through the node's command
// connection; subscriptions live on a connection of their own, which node-redis resubscribes
// after every reconnect. Both connections are up when the bus is made, so each later "ready" is a
// reconnect (after the resubscription, for the subscriber): recovery listeners hear of it.

import type { Bus, BusMessage, DirectReport, EnvelopeHandler, RecoveryListener } from "./types.ts";
import {
  closeRedisClient,
  messageOf,
  type RedisClient,
  type RedisKeys,
  storage,
  type Warn,
} from "./redis_client.ts";

export interface RedisBusOptions {
  publisher: RedisClient;
  subscriber: RedisClient;
  keys: RedisKeys;
  warn: Warn;
  /** Called once when the bus no longer needs `publisher`. */
  releasePublisher: () => Promise<void>;
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
    const reconnected = () => this.#recovered();
    options.subscriber.on("ready", reconnected);
    options.publisher.on("ready", reconnected);
  }

  onRecovered(listener: RecoveryListener): void {
    this.#recoveryListeners.push(listener);
  }

  async subscribe(nodeId: string, handler: EnvelopeHandler): Promise<void> {
    const subscribed = this.#handlers.has(nodeId);
    this.#handlers.set(nodeId, handler);
    if (subscribed) return;
    const { subscriber, keys } = this.#options;
    try {
      await storage(
        "subscribe",
        () =>
          subscriber.subscribe(keys.channel(nodeId), (message) => this.#receive(nodeId, message)),
      );
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
    const { publisher, keys } = this.#options;
    const text = JSON.stringify(messages.length === 1 ? messages[0] : { batch: messages });
    storage("publish", () => publisher.publish(keys.channel(nodeId), text)).then(
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
    const { subscriber, releasePublisher } = this.#options;
    if (subscriber.isReady) await subscriber.unsubscribe().catch(() => {});
    await closeRedisClient(subscriber);
    await releasePublisher();
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
    for (const envelope of parseRedisMessage(message)) {
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

/**
 * The bus messages in one Redis message, in order: one, or those of a batch; undefined for each
 * that is not one (a batch that is not a list counts as one malformed message).
 */
function parseRedisMessage(message: string): Array<BusMessage | undefined> {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return [undefined];
  }
  if (isObject(value) && "batch" in value) {
    return Array.isArray(value.batch) ? value.batch.map(busMessageOf) : [undefined];
  }
  return [busMessageOf(value)];
}

/** The bus message `value` is, or undefined when it is not one. */
function busMessageOf(value: unknown): BusMessage | undefined {
  if (!isObject(value)) return undefined;
  // `sentAt` (publish time, epoch ms) lets the receiver measure the bus's lag.
  const sentAt = typeof value.sentAt === "number" ? { sentAt: value.sentAt } : {};
  if (Array.isArray(value.reports)) {
    return value.reports.every(isReport) ? { reports: value.reports, ...sentAt } : undefined;
  }
  if (!isObject(value.push) || !isIdList(value.to)) return undefined;
  const reply = value.reply;
  if (reply === undefined) return { to: value.to, push: value.push, ...sentAt };
  if (!isObject(reply) || typeof reply.node !== "string" || !Number.isSafeInteger(reply.ticket)) {
    return undefined;
  }
  return {
    to: value.to,
    push: value.push,
    reply: { node: reply.node, ticket: reply.ticket as number },
    ...sentAt,
  };
}

function isReport(value: unknown): value is DirectReport {
  return isObject(value) && Number.isSafeInteger(value.ticket) && isIdList(value.taken);
}

function isIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((id) => Number.isSafeInteger(id));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
