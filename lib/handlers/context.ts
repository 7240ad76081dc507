// What every request handler gets: the session it serves, the request, and the server's
// dependencies; and what it gives back: the response body and an optional follow-up.

import { ChatError, Errno } from "../errors.ts";
import type { Presence } from "../cluster/types.ts";
import type { Delivery } from "../delivery.ts";
import type { HashLane } from "../hash_slots.ts";
import type { KnownUsers } from "../known_users.ts";
import type { Logger } from "../log.ts";
import type { LogThrottle } from "../log_throttle.ts";
import type { ServerMetrics } from "../metrics.ts";
import type { LoginThrottle } from "../rate_limit.ts";
import type { Frame } from "../protocol.ts";
import type { RegistrationLimit } from "../registration_limit.ts";
import type { SessionTokens } from "../session_tokens.ts";
import type { Session, SessionRegistry } from "../session.ts";
import type { Roster } from "../roster/roster.ts";
import type { Repositories } from "../store/types.ts";

/** Password hashing; work not started when `signal` aborts is skipped (CancelledError). */
export interface PasswordHasher {
  /** A hash of `password`; registrations use the "register" lane, behind every login. */
  hash(password: string, lane: HashLane, signal?: AbortSignal): Promise<string>;
  verify(password: string, stored: string, signal?: AbortSignal): Promise<boolean>;
  /** A hash no password matches, at the same cost: verified for unknown users. */
  readonly placeholder: string;
}

export interface ChatDeps {
  store: Repositories;
  presence: Presence;
  delivery: Delivery;
  /** Presence and roster updates to the users concerned (lib/roster/roster.ts). */
  roster: Roster;
  sessions: SessionRegistry;
  /** User ids known to exist (bounded), so a chat message does not read its recipient's row. */
  knownUsers: KnownUsers;
  passwords: PasswordHasher;
  throttle: LoginThrottle;
  /** Issues and checks session tokens. */
  tokens: SessionTokens;
  /** Registrations per source address. */
  registrations: RegistrationLimit;
  /** The server's clock; pushes and ACKs carry its time. */
  now: () => Date;
  log: Logger;
  /** The log lines of failures that can repeat per request or message, thinned out. */
  warnings: LogThrottle;
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
