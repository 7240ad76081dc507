// What every request handler gets: the session it serves, the request, and the server's
// dependencies; and what it gives back: the response body and an optional follow-up.

import { ChatError, Errno } from "../errors.ts";
import type { Presence } from "../cluster/types.ts";
import type { Delivery } from "../delivery.ts";
import type { Logger } from "../log.ts";
import type { ServerMetrics } from "../metrics.ts";
import type { LoginThrottle } from "../rate_limit.ts";
import type { Frame } from "../protocol.ts";
import type { Session, SessionRegistry } from "../session.ts";
import type { Repositories } from "../store/types.ts";

/** Password hashing; work not started when `signal` aborts is skipped (CancelledError). */
export interface PasswordHasher {
  hash(password: string, signal?: AbortSignal): Promise<string>;
  verify(password: string, stored: string, signal?: AbortSignal): Promise<boolean>;
}

export interface ChatDeps {
  store: Repositories;
  presence: Presence;
  delivery: Delivery;
  sessions: SessionRegistry;
  passwords: PasswordHasher;
  throttle: LoginThrottle;
  /** The server's clock; pushes and ACKs carry its time. */
  now: () => Date;
  log: Logger;
  /** Where the core reports what it counts; none by default. */
  metrics?: ServerMetrics;
}

export interface HandlerResult {
  /** Response fields besides msgid, seq and errno. */
  body?: Frame;
  /** Work to do once the response is queued (e.g. forget delivered offline messages). */
  afterReply?: () => Promise<void>;
}

export type Handler = (session: Session, request: Frame, deps: ChatDeps) => Promise<HandlerResult>;

/** The logged-in user of the session; errno 4 when there is none. */
export function requireUser(session: Session): { id: number; name: string } {
  if (!session.user) throw new ChatError(Errno.NOT_LOGGED_IN, "not logged in");
  return session.user;
}
