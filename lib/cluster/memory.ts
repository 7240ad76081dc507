// In-process presence and bus: the embedded default for a single server. Several nodes created
// from one InProcessCluster share it, which lets tests run a "cluster" inside one process. Bus
// messages go through the same text codec as on Redis (lib/cluster/bus_codec.ts), so what the
// in-process tests send is what a real cluster could carry.

import { decodeBusMessages, encodeBusMessages } from "./bus_codec.ts";
import type { Bus, BusMessage, EnvelopeHandler, NodeGoneListener, Presence } from "./types.ts";

/** Shared state of the nodes living in this process. */
export class InProcessCluster {
  readonly #online = new Map<number, string>();
  readonly #subscribers = new Map<string, EnvelopeHandler>();
  /** The latest presence epoch of each user who logged in (bounded by the users). */
  readonly #epochs = new Map<number, number>();
  /** Who hears of ended node lives, by the node listening. */
  readonly #goneListeners = new Map<string, NodeGoneListener[]>();

  /** The presence view of one node. */
  presence(nodeId: string): Presence {
    const online = this.#online;
    const epochs = this.#epochs;
    const forgetMine = () => {
      this.#end(nodeId);
      return Promise.resolve();
    };
    return {
      nodeId,
      claim(userId) {
        if (online.has(userId)) return Promise.resolve(false);
        online.set(userId, nodeId);
        return Promise.resolve(true);
      },
      release(userId) {
        if (online.get(userId) === nodeId) online.delete(userId);
        return Promise.resolve();
      },
      locate(userIds) {
        const found = new Map<number, string>();
        for (const userId of userIds) {
          const node = online.get(userId);
          if (node !== undefined) found.set(userId, node);
        }
        return Promise.resolve(found);
      },
      nextEpoch(userId) {
        const epoch = (epochs.get(userId) ?? 0) + 1;
        epochs.set(userId, epoch);
        return Promise.resolve(epoch);
      },
      epochs(userIds) {
        const found = new Map<number, number>();
        for (const userId of userIds) {
          const epoch = epochs.get(userId);
          if (epoch !== undefined) found.set(userId, epoch);
        }
        return Promise.resolve(found);
      },
      clearStale: forgetMine,
      onNodeGone: (listener) => {
        this.#goneListeners.set(nodeId, [...this.#goneListeners.get(nodeId) ?? [], listener]);
      },
      ping: () => Promise.resolve(true),
      // Like a graceful shutdown of a real node: its users go offline.
      close: forgetMine,
    };
  }

  /**
   * Plays the sudden death of a node (tests): its users go offline without a word from it, and
   * the other nodes are told, as the Redis presence tells them once the node's liveness lapses.
   */
  kill(nodeId: string): void {
    this.#subscribers.delete(nodeId);
    this.#goneListeners.delete(nodeId);
    this.#end(nodeId);
  }

  /** Drops the users of `nodeId` and tells the other nodes, asynchronously as a real one would. */
  #end(nodeId: string): void {
    let held = false;
    for (const [userId, node] of this.#online) {
      if (node === nodeId) {
        this.#online.delete(userId);
        held = true;
      }
    }
    if (!held) return;
    for (const [listening, listeners] of this.#goneListeners) {
      if (listening === nodeId) continue;
      for (const listener of listeners) queueMicrotask(() => listener(nodeId));
    }
  }

  /** A bus endpoint; every endpoint of this cluster reaches the same subscribers. */
  bus(): Bus {
    const subscribers = this.#subscribers;
    const mine = new Set<string>();
    return {
      subscribe(nodeId, handler) {
        subscribers.set(nodeId, handler);
        mine.add(nodeId);
        return Promise.resolve();
      },
      publish(nodeId, envelope: BusMessage) {
        const handler = subscribers.get(nodeId);
        if (!handler) return Promise.resolve(false);
        const [decoded] = decodeBusMessages(encodeBusMessages([envelope]));
        if (!decoded) return Promise.reject(new TypeError("Cannot publish: not a bus message"));
        // Deliver asynchronously, as a real bus would.
        queueMicrotask(() => handler(decoded));
        return Promise.resolve(true);
      },
      close() {
        for (const nodeId of mine) subscribers.delete(nodeId);
        mine.clear();
        return Promise.resolve();
      },
    };
  }
}
