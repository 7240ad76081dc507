// A connection's chat session (who is logged in on it, how to send to it), what a transport reads
// from its client, and the registry of the sessions of users logged in on this server.

import type { Frame } from "./protocol.ts";
import type { SharedFrame } from "./shared_frame.ts";

/** The outbound side of one client connection, as the chat core sees it. */
export interface Session {
  readonly connectionId: number;
  /** The logged-in user, or null before login and after logout. */
  user: { id: number; name: string } | null;
  /**
   * Whether the client acknowledges pushes with RECEIPT (it said so at login). If not, a push
   * counts as delivered once written to its connection, as in protocol v1.
   */
  receipts: boolean;
  /** The hash of the session token the user logged in with or was given; null when logged out. */
  tokenHash: string | null;
  /** The client's address (without port), for limits per source address. */
  readonly remoteHost: string;
  /** Queues a frame for the client. */
  send(frame: Frame): void;
  /** Queues a frame sent to many recipients; the transport encodes it once for all of them. */
  sendShared(frame: SharedFrame): void;
  /** True when the connection's request rate allows one more request. */
  admit(): boolean;
  /** Resolves true once everything queued so far is written, false if the connection closed. */
  written(): Promise<boolean>;
  /** Bytes queued and not yet written (a measure of how far behind the connection is). */
  readonly unwrittenBytes: number;
  /** Aborts when the connection closes: work for it not started yet is skipped. */
  readonly signal: AbortSignal;
}

/** A client connection of some transport, as the core serves it (lib/core.ts). */
export interface Connection extends Session {
  /** performance.now() of the last bytes received. */
  readonly lastActivity: number;
  /** Why the server closed the connection, if it did. */
  readonly closeReason: string | null;
  /** The peer's address, for the log. */
  readonly remoteAddress: string;
  /** Closes the connection; what is queued and not written yet is dropped. */
  close(reason?: string): void;
}

/**
 * One thing a transport read from its client: a request, a bad one (the connection stays
 * usable), or one above the size limit (fatal: the connection is closed). `hint` says what the
 * oversize data looked like, when the transport can tell.
 */
export type Inbound =
  | { kind: "frame"; frame: Frame }
  | { kind: "invalid"; reason: string }
  | { kind: "oversize"; length: number; hint?: string };

/** Sessions of the users logged in on this server, by user id. */
export class SessionRegistry {
  readonly #byUser = new Map<number, Session>();

  get size(): number {
    return this.#byUser.size;
  }

  add(userId: number, session: Session): void {
    this.#byUser.set(userId, session);
  }

  /** Removes the user's entry if it is this session. */
  remove(userId: number, session: Session): void {
    if (this.#byUser.get(userId) === session) this.#byUser.delete(userId);
  }

  get(userId: number): Session | undefined {
    return this.#byUser.get(userId);
  }

  userIds(): number[] {
    return [...this.#byUser.keys()];
  }
}
