// A connection's chat session (who is logged in on it, how to send to it) and the registry of
// the sessions of users logged in on this server.

import type { Frame } from "./protocol.ts";

/** The outbound side of one client connection, as the chat core sees it. */
export interface Session {
  readonly connectionId: number;
  /** The logged-in user, or null before login and after logout. */
  user: { id: number; name: string } | null;
  /**
   * Whether the client acknowledges pushes with RECEIPT (it said so at login). If not, a push
   * counts as delivered once written to its socket, as in protocol v1.
   */
  receipts: boolean;
  /** Queues a frame for the client. */
  send(frame: Frame): void;
  /** Queues an already encoded frame (shared by many recipients of one push). */
  sendEncoded(bytes: Uint8Array): void;
  /** True when the connection's request rate allows one more request. */
  admit(): boolean;
  /** Resolves true once everything queued so far is written, false if the connection closed. */
  written(): Promise<boolean>;
  /** Bytes queued and not yet written to the socket (a measure of how far behind it is). */
  readonly unwrittenBytes: number;
  /** Aborts when the connection closes: work for it not started yet is skipped. */
  readonly signal: AbortSignal;
}

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
