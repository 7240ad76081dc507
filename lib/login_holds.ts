// The sessions logging in on this server. From the moment a login claims its user until its
// backlog has been written, live pushes for that user are held here instead of being sent, so
// none overtakes an older message of the backlog; direct delivery skips such a user (the
// message is made pending, and the backlog or the release carries it). One hold per user, at
// most one per session logged in here.

import type { ChatPush } from "./protocol.ts";
import type { Session } from "./session.ts";

export class LoginHolds {
  readonly #holding = new Map<number, { session: Session; pushes: ChatPush[] }>();

  /** Starts holding the pushes for `session` of `userId` (it is logging in). */
  hold(userId: number, session: Session): void {
    this.#holding.set(userId, { session, pushes: [] });
  }

  /** True while some session of `userId` is logging in here. */
  isLoggingIn(userId: number): boolean {
    return this.#holding.has(userId);
  }

  /** True while `session` of `userId` is logging in. */
  isHolding(userId: number, session: Session): boolean {
    return this.#holding.get(userId)?.session === session;
  }

  /** Keeps `push` for `session` if it is logging in; false if it is not (send it now). */
  keep(userId: number, session: Session, push: ChatPush): boolean {
    const held = this.#holding.get(userId);
    if (held?.session !== session) return false;
    held.pushes.push(push);
    return true;
  }

  /** Stops holding for `session`; returns what was held (nothing if it held nothing). */
  release(userId: number, session: Session): ChatPush[] {
    const held = this.#holding.get(userId);
    if (held?.session !== session) return [];
    this.#holding.delete(userId);
    return held.pushes;
  }
}
