// The message log and pending deliveries on SQLite: messages are kept for history; each
// recipient has a row per message until they acknowledge it. A mailbox row counts the
// deliveries added for each user since their pending rows were last counted: acknowledging is a
// single DELETE, and only a user whose count passes the cap has their rows counted (and, if
// really over, their oldest dropped).

import {
  MESSAGE_COLUMNS,
  type Prepare,
  type Row,
  run,
  runBatched,
  type Transaction,
  type TurnBatch,
} from "./sqlite_support.ts";
import { conversationOf, historyChain } from "./sqlite_history.ts";
import type { MessageRepository, NewMessage, StoredMessage } from "./types.ts";

export function sqliteMessages(
  sql: Prepare,
  tx: Transaction,
  batch: TurnBatch,
  pendingCap: number,
): MessageRepository {
  const chain = historyChain(sql);
  const findByKey = (senderId: number, key: string) =>
    sql(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender_id = ? AND client_key = ?`)
      .get(senderId, key);

  const insert = (message: NewMessage): StoredMessage => {
    const conversation = conversationOf(message.groupId, message.senderId, message.toId);
    const head = chain.headQuery(conversation);
    const result = sql(
      `INSERT INTO messages (sender_id, sender_name, to_id, group_id, msg, time, client_key,
         prev_mid)
       VALUES (?, ?, ?, ?, ?, ?, ?, (${head.sql}))`,
    ).run(
      message.senderId,
      message.senderName,
      message.toId,
      message.groupId,
      message.msg,
      message.time,
      message.key,
      ...head.params,
    );
    const mid = Number(result.lastInsertRowid);
    chain.advance(conversation, mid);
    const { key: _key, recipients: _recipients, ...fields } = message;
    return { mid, ...fields };
  };

  /**
   * Adds `mid` to each recipient's pending deliveries (a recipient who has it keeps one),
   * dropping the oldest past the cap. A recipient counted twice in the mailbox only has their
   * rows counted sooner.
   */
  const addPending = (recipients: readonly number[], mid: number) => {
    if (recipients.length === 0) return;
    const counters = recipients.length === 1
      ? addPendingOne(recipients[0], mid)
      : addPendingSet(recipients, mid);
    for (const row of counters) {
      if (Number(row.pending) > pendingCap) enforceCap(Number(row.user_id));
    }
  };

  // One recipient (every one-to-one message): plain statements, about half the cost of the
  // json_each ones below.
  const addPendingOne = (recipient: number, mid: number) => {
    sql("INSERT OR IGNORE INTO pending_deliveries (user_id, mid) VALUES (?, ?)").run(
      recipient,
      mid,
    );
    return sql(
      `INSERT INTO mailboxes (user_id, pending) VALUES (?, 1)
       ON CONFLICT (user_id) DO UPDATE SET pending = pending + 1 RETURNING user_id, pending`,
    ).all(recipient);
  };

  // One statement per step for all recipients (json_each), not one per recipient: a group
  // message stays a handful of statements however large the group.
  const addPendingSet = (recipients: readonly number[], mid: number) => {
    const ids = JSON.stringify(recipients);
    sql("INSERT OR IGNORE INTO pending_deliveries (user_id, mid) SELECT value, ? FROM json_each(?)")
      .run(mid, ids);
    return sql(
      `INSERT INTO mailboxes (user_id, pending) SELECT value, 1 FROM json_each(?) WHERE true
       ON CONFLICT (user_id) DO UPDATE SET pending = pending + 1 RETURNING user_id, pending`,
    ).all(ids);
  };

  /** Counts the user's pending rows and drops the oldest beyond the cap. */
  const enforceCap = (userId: number) => {
    const { count } = sql("SELECT COUNT(*) AS count FROM pending_deliveries WHERE user_id = ?")
      .get(userId) as Row;
    const excess = Math.max(0, Number(count) - pendingCap);
    if (excess > 0) {
      sql(
        `DELETE FROM pending_deliveries WHERE user_id = ? AND mid IN (
           SELECT mid FROM pending_deliveries WHERE user_id = ? ORDER BY mid LIMIT ?)`,
      ).run(userId, userId, excess);
    }
    sql("UPDATE mailboxes SET pending = ?, dropped = dropped + ? WHERE user_id = ?")
      .run(Number(count) - excess, excess, userId);
  };

  return {
    // Appends and acknowledgements, the busy writes, share one transaction per event-loop turn.
    append: (message) =>
      runBatched(batch, () => {
        const earlier = message.key === null ? undefined : findByKey(message.senderId, message.key);
        if (earlier) return { message: toMessage(earlier), duplicate: true };
        const stored = insert(message);
        addPending([...new Set(message.recipients)], stored.mid);
        return { message: stored, duplicate: false };
      }),
    addPending: (mid, userIds) =>
      userIds.length === 0
        ? Promise.resolve()
        : runBatched(batch, () => addPending([...new Set(userIds)], mid)),
    pending: (userId) =>
      run(() =>
        sql(
          `SELECT m.mid, m.sender_id, m.sender_name, m.to_id, m.group_id, m.msg, m.time
           FROM pending_deliveries p JOIN messages m ON m.mid = p.mid
           WHERE p.user_id = ? ORDER BY p.mid`,
        ).all(userId).map(toMessage)
      ),
    keepPending: (userId, mids) =>
      mids.length === 0 ? Promise.resolve() : runBatched(batch, () => {
        const { changes } = sql(
          `INSERT OR IGNORE INTO pending_deliveries (user_id, mid)
           SELECT ?, value FROM json_each(?)`,
        ).run(userId, JSON.stringify(mids));
        const { pending } = sql(
          `INSERT INTO mailboxes (user_id, pending) VALUES (?, ?)
           ON CONFLICT (user_id) DO UPDATE SET pending = pending + excluded.pending
           RETURNING pending`,
        ).get(userId, changes) as Row;
        if (Number(pending) > pendingCap) enforceCap(userId);
      }),
    acknowledge: (userId, mids) =>
      mids.length === 0 ? Promise.resolve() : runBatched(batch, () => {
        if (mids.length === 1) {
          sql("DELETE FROM pending_deliveries WHERE user_id = ? AND mid = ?").run(userId, mids[0]);
          return;
        }
        sql(
          `DELETE FROM pending_deliveries
           WHERE user_id = ? AND mid IN (SELECT value FROM json_each(?))`,
        ).run(userId, JSON.stringify(mids));
      }),
    takeDropped: (userId) =>
      run(() =>
        tx(() => {
          const row = sql("SELECT dropped FROM mailboxes WHERE user_id = ?").get(userId);
          const dropped = Number(row?.dropped ?? 0);
          if (dropped > 0) sql("UPDATE mailboxes SET dropped = 0 WHERE user_id = ?").run(userId);
          return dropped;
        })
      ),
    history: (query) => run(() => chain.walk(query).map(toMessage).reverse()),
  };
}

export function toMessage(row: Row): StoredMessage {
  return {
    mid: Number(row.mid),
    senderId: Number(row.sender_id),
    senderName: String(row.sender_name),
    toId: row.to_id === null ? null : Number(row.to_id),
    groupId: row.group_id === null ? null : Number(row.group_id),
    msg: String(row.msg),
    time: String(row.time),
  };
}
