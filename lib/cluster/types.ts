// What the chat core needs from the cluster: who is online on which node (Presence), and a way
// to hand pushes to another node (Bus). The in-process implementation serves a single node (and
// several nodes inside one process, for tests); the Redis one serves a real cluster.
// tests/cluster_contract.ts is the contract every implementation must pass.

import type { Frame } from "../protocol.ts";

/** Pushes addressed to users said to be on one node. */
export interface Envelope {
  to: number[];
  push: Frame;
  /** When the sending server published it (ms since the epoch), for the pub/sub lag metric. */
  sentAt?: number;
  /**
   * Set when the sending server waits for an answer: the receiver writes the push only to the
   * recipients who can take it directly and reports them to node `node` under `ticket`
   * (lib/direct.ts).
   */
  reply?: { node: string; ticket: number };
}

/** A node's answers to envelopes with `reply`: per ticket, the recipients who took the push. */
export interface ReportEnvelope {
  reports: DirectReport[];
  sentAt?: number;
}

export interface DirectReport {
  ticket: number;
  taken: number[];
  /**
   * Recipients with a session on the reporting node who do not take pushes directly now (they
   * send receipts, are logging in, or are behind on their writes): the sender routes them the
   * pending way for a while instead of asking again for every message. Absent: none.
   */
  declined?: number[];
}

/** What chat delivery sends on the bus. */
export type ChatBusMessage = Envelope | ReportEnvelope;

/**
 * A roster update (a PRESENCE or ROSTER push) for users said to be on one node. Never stored:
 * what finds no session is dropped (the next login shows the fresh roster).
 */
export interface RosterEnvelope {
  to: number[];
  /** The push, written as it is to each recipient who takes it. */
  event: Frame;
  /** For a PRESENCE push and friend_added: where the user it is about is, and in which session. */
  subject?: PresenceStamp;
  sentAt?: number;
}

/** A user's session: the node it is on and its presence epoch (see Presence.nextEpoch). */
export interface PresenceStamp {
  node: string;
  epoch: number;
}

/** What travels on the bus. */
export type BusMessage = ChatBusMessage | RosterEnvelope;

export type EnvelopeHandler = (message: BusMessage) => void;

/** Told that pushes may have missed their recipients while a backend was away. */
export type RecoveryListener = () => void;

/**
 * Told that a life of node `nodeId` ended (the node died, shut down, or started again): the
 * users it held then are offline, unless they have logged in again since.
 */
export type NodeGoneListener = (nodeId: string) => void;

export interface Bus {
  /** Delivers every envelope published to `nodeId` to `handler`, until close. */
  subscribe(nodeId: string, handler: EnvelopeHandler): Promise<void>;
  /**
   * Hands a message to the subscriber of `nodeId`. Resolves true when a subscriber received
   * it, false when none did (the pushes then wait as pending deliveries for the next login).
   * Throws StorageError when the bus itself is unreachable.
   */
  publish(nodeId: string, message: BusMessage): Promise<boolean>;
  /**
   * Calls `listener` each time the bus works again after losing its connection: its subscription
   * is re-established (envelopes published to this node meanwhile were lost) or it can publish
   * again. A bus that cannot lose envelopes (the in-process one) never calls it.
   */
  onRecovered?(listener: RecoveryListener): void;
  close(): Promise<void>;
}

/** Cluster-wide presence, as seen from one node. */
export interface Presence {
  readonly nodeId: string;
  /** Marks the user online on this node; false when they are online anywhere already. */
  claim(userId: number): Promise<boolean>;
  /** Marks the user offline if this node holds them. */
  release(userId: number): Promise<void>;
  /** For each given user online anywhere in the cluster, the node holding them. */
  locate(userIds: readonly number[]): Promise<Map<number, string>>;
  /**
   * A presence epoch for a session of the user starting now: larger than every earlier one of
   * theirs, so that of two presence events about one user, the later session's can be told.
   */
  nextEpoch(userId: number): Promise<number>;
  /** The latest epoch taken for each given user who has one. */
  epochs(userIds: readonly number[]): Promise<Map<number, number>>;
  /**
   * Forgets presence this node left behind in an earlier life (called once at start), then
   * tells the other nodes that this life began (they report the earlier one gone).
   */
  clearStale(): Promise<void>;
  /**
   * Calls `listener` each time another node's life ends (see NodeGoneListener), within a few
   * seconds; the Redis presence notices a killed node once its liveness key lapses.
   */
  onNodeGone(listener: NodeGoneListener): void;
  /** True when the presence backend answers. */
  ping(): Promise<boolean>;
  /**
   * Calls `listener` each time this node had to mark its users online again (the presence
   * backend lost them, e.g. Redis restarted empty): meanwhile they looked offline to the cluster.
   */
  onRecovered?(listener: RecoveryListener): void;
  close(): Promise<void>;
}
