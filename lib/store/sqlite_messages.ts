// The message log and pending deliveries on SQLite: messages are kept for history; each
// recipient has a row per message until they acknowledge it; a mailbox row counts each user's
// pending deliveries so the cap is enforced without counting rows.

import { type Prepare, type Row, run, type Transaction } from "./sqlite_support.ts";
import type { MessageRepository, NewMessage, StoredMessage } from "./types.ts";

const COLUMNS = "mid, sender_id, sender_name, to_id, group_id, msg, time";

export function sqliteMessages(
  sql: Prepare,
  tx: Transaction,
  pendingCap: number,
): MessageRepository {
  const findByKey = (senderId: number, key: string) =>
    sql(`SELECT ${COLUMNS} FROM messages WHERE sender_id = ? AND client_key = ?`)
      .get(senderId, key);

  const insert = (message: NewMessage): StoredMessage => {
    const result = sql(
      `INSERT INTO messages (sender_id, sender_name, to_id, group_id, msg, time, client_key)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      message.senderId,
      message.senderName,
      message.toId,
      message.groupId,
      message.msg,
      message.time,
      message.key,
    );
    const { key: _key, recipients: _recipients, ...fields } = message;
    return { mid: Number(result.lastInsertRowid), ...fields };
  };

  const addPending = (userId: number, mid: number) => {
    sql("INSERT INTO pending_deliveries (user_id, mid) VALUES (?, ?)").run(userId, mid);
    const { pending } = sql(
      `INSERT INTO mailboxes (user_id, pending) VALUES (?, 1)
       ON CONFLICT (user_id) DO UPDATE SET pending = pending + 1 RETURNING pending`,
    ).get(userId) as Row;
    const excess = Number(pending) - pendingCap;
    if (excess > 0) {
      sql(
        `DELETE FROM pending_deliveries WHERE user_id = ? AND mid IN (
           SELECT mid FROM pending_deliveries WHERE user_id = ? ORDER BY mid LIMIT ?)`,
      ).run(userId, userId, excess);
      sql(
        "UPDATE mailboxes SET pending = pending - ?, dropped = dropped + ? WHERE user_id = ?",
      ).run(excess, excess, userId);
    }
  };

  return {
    append: (message) =>
      run(() =>
        tx(() => {
          const earlier = message.key === null
            ? undefined
            : findByKey(message.senderId, message.key);
          if (earlier) return { message: toMessage(earlier), duplicate: true };
          const stored = insert(message);
          for (const userId of message.recipients) addPending(userId, stored.mid);
          return { message: stored, duplicate: false };
        })
      ),
    pending: (userId) =>
      run(() =>
        sql(
          `SELECT m.mid, m.sender_id, m.sender_name, m.to_id, m.group_id, m.msg, m.time
           FROM pending_deliveries p JOIN messages m ON m.mid = p.mid
           WHERE p.user_id = ? ORDER BY p.mid`,
        ).all(userId).map(toMessage)
      ),
    acknowledge: (userId, mids) =>
      run(() => {
        if (mids.length === 0) return;
        tx(() => {
          const remove = sql("DELETE FROM pending_deliveries WHERE user_id = ? AND mid = ?");
          let removed = 0;
          for (const mid of mids) removed += Number(remove.run(userId, mid).changes);
          if (removed > 0) {
            sql("UPDATE mailboxes SET pending = pending - ? WHERE user_id = ?").run(
              removed,
              userId,
            );
          }
        });
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
    history: ({ userId, peerId, groupId, beforeMid, limit }) =>
      run(() => {
        const before = beforeMid ?? Number.MAX_SAFE_INTEGER;
        const rows = groupId !== null
          ? sql(
            `SELECT ${COLUMNS} FROM messages WHERE group_id = ? AND mid < ?
             ORDER BY mid DESC LIMIT ?`,
          ).all(groupId, before, limit)
          : sql(
            `SELECT ${COLUMNS} FROM messages
             WHERE ((sender_id = ? AND to_id = ?) OR (sender_id = ? AND to_id = ?)) AND mid < ?
             ORDER BY mid DESC LIMIT ?`,
          ).all(userId, peerId, peerId, userId, before, limit);
        return rows.map(toMessage).reverse();
      }),
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
