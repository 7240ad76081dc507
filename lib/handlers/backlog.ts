// Delivers what waited for a user while they were away: the first batch rides in the login
// ACK, the rest follows as ordinary pushes, one batch at a time, each written before the next so
// the connection's outbound queue stays small. For clients without receipts a batch counts as
// delivered once written (protocol v1); clients with receipts acknowledge it themselves.

import type { ChatPush } from "../protocol.ts";
import type { Session } from "../session.ts";
import type { ChatDeps } from "./context.ts";

/** Pending messages per frame batch. */
export const BACKLOG_BATCH = 200;

export interface Backlog {
  /** Sent inside the login ACK. */
  first: ChatPush[];
  /** Sent as pushes after it. */
  rest: ChatPush[];
  /** How many the per-user cap dropped since the last login. */
  dropped: number;
}

export function splitBacklog(pushes: ChatPush[], dropped: number): Backlog {
  return { first: pushes.slice(0, BACKLOG_BATCH), rest: pushes.slice(BACKLOG_BATCH), dropped };
}

/**
 * Runs after the login ACK is written: marks it delivered if needed, sends the rest, then the
 * live pushes held meanwhile (see Delivery.hold), so that none overtakes an older message.
 */
export async function sendBacklog(session: Session, backlog: Backlog, deps: ChatDeps) {
  const userId = session.user?.id;
  if (userId === undefined) return;
  const sent = new Set(backlog.first.map((push) => push.mid));
  const delivered = async (batch: ChatPush[]) => {
    if (!session.receipts && batch.length > 0) {
      await deps.store.messages.acknowledge(userId, batch.map((push) => push.mid));
    }
  };
  try {
    await delivered(backlog.first);
    for (let start = 0; start < backlog.rest.length; start += BACKLOG_BATCH) {
      const batch = backlog.rest.slice(start, start + BACKLOG_BATCH);
      for (const push of batch) {
        session.send({ ...push });
        sent.add(push.mid);
      }
      if (!await session.written()) return;
      await delivered(batch);
    }
  } finally {
    deps.delivery.release(userId, session, sent);
  }
}
