// The message log and pending deliveries on MySQL: Message keeps every message for history;
// OfflineMessage has a row per recipient and message until the recipient acknowledges it. A
// Mailbox row counts the deliveries added for each user since their rows were last counted:
// acknowledging is a single DELETE, and only a user whose count passes the cap has their rows
// counted (and, if really over, their oldest dropped).
//
// Locking: an append locks the Mailbox rows of its recipients first, in ascending user id, so
// two appends never deadlock on each other (a deadlock from elsewhere is retried by
// inTransaction).

import type { Pool, PoolConnection, RowDataPacket } from "mysql2/promise";
import {
  batches,
  ER_DUP_ENTRY,
  inTransaction,
  modify,
  placeholders,
  run,
  select,
} from "./mysql_support.ts";
import type { MessageRepository, NewMessage, StoredMessage } from "./types.ts";

const COLUMNS = "mid, senderid, sendername, toid, groupid, msg, time";

export function mysqlMessages(pool: Pool, pendingCap: number): MessageRepository {
  return {
    append: (message) =>
      run(async () => {
        try {
          const stored = await inTransaction(pool, (connection) => insert(connection, message));
          return { message: stored, duplicate: false };
        } catch (error) {
          const duplicateKey = (error as { errno?: number }).errno === ER_DUP_ENTRY;
          if (!duplicateKey || message.key === null) throw error;
          const [earlier] = await select(
            pool,
            `SELECT ${COLUMNS} FROM Message WHERE senderid = ? AND clientkey = ?`,
            [message.senderId, message.key],
          );
          if (!earlier) throw error;
          return { message: toMessage(earlier), duplicate: true };
        }
      }),
    pending: (userId) =>
      run(async () => {
        const rows = await select(
          pool,
          `SELECT m.mid, m.senderid, m.sendername, m.toid, m.groupid, m.msg, m.time
           FROM OfflineMessage o JOIN Message m ON m.mid = o.mid
           WHERE o.userid = ? ORDER BY o.mid`,
          [userId],
        );
        return rows.map(toMessage);
      }),
    acknowledge: (userId, mids) =>
      run(async () => {
        for (const batch of batches([...new Set(mids)])) {
          await modify(
            pool,
            `DELETE FROM OfflineMessage WHERE userid = ? AND mid IN (${
              placeholders(batch.length)
            })`,
            [userId, ...batch],
          );
        }
      }),
    takeDropped: (userId) =>
      run(() =>
        inTransaction(pool, async (connection) => {
          const [mailbox] = await select(
            connection,
            "SELECT dropped FROM Mailbox WHERE userid = ? FOR UPDATE",
            [userId],
          );
          const dropped = Number(mailbox?.dropped ?? 0);
          if (dropped > 0) {
            await modify(connection, "UPDATE Mailbox SET dropped = 0 WHERE userid = ?", [userId]);
          }
          return dropped;
        })
      ),
    history: ({ userId, peerId, groupId, beforeMid, limit }) =>
      run(async () => {
        const before = beforeMid ?? Number.MAX_SAFE_INTEGER;
        const rows = groupId !== null
          ? await select(
            pool,
            `SELECT ${COLUMNS} FROM Message WHERE groupid = ? AND mid < ?
             ORDER BY mid DESC LIMIT ?`,
            [groupId, before, limit],
          )
          // Two index ranges (one per direction) merged, rather than an OR no index serves.
          : await select(
            pool,
            `(SELECT ${COLUMNS} FROM Message WHERE senderid = ? AND toid = ? AND mid < ?
              ORDER BY mid DESC LIMIT ?)
             UNION ALL
             (SELECT ${COLUMNS} FROM Message WHERE senderid = ? AND toid = ? AND mid < ?
              ORDER BY mid DESC LIMIT ?)
             ORDER BY mid DESC LIMIT ?`,
            [userId, peerId, before, limit, peerId, userId, before, limit, limit],
          );
        return rows.map(toMessage).reverse();
      }),
  };

  /** Stores the message and a pending delivery for each recipient; trims who is over cap. */
  async function insert(connection: PoolConnection, message: NewMessage): Promise<StoredMessage> {
    const { insertId: mid } = await modify(
      connection,
      `INSERT INTO Message (senderid, sendername, toid, groupid, msg, time, clientkey)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [
        message.senderId,
        message.senderName,
        message.toId,
        message.groupId,
        message.msg,
        message.time,
        message.key,
      ],
    );
    const recipients = [...new Set(message.recipients)].sort((a, b) => a - b);
    for (const batch of batches(recipients)) {
      await modify(
        connection,
        `INSERT INTO Mailbox (userid, pending) VALUES ${placeholders(batch.length, "(?, 1)")}
         ON DUPLICATE KEY UPDATE pending = pending + 1`,
        [...batch],
      );
    }
    for (const batch of batches(recipients)) {
      await modify(
        connection,
        `INSERT INTO OfflineMessage (userid, mid) VALUES ${placeholders(batch.length, "(?, ?)")}`,
        batch.flatMap((userId) => [userId, mid]),
      );
    }
    for (const batch of batches(recipients)) {
      const full = await select(
        connection,
        `SELECT userid, pending FROM Mailbox
         WHERE userid IN (${placeholders(batch.length)}) AND pending > ?`,
        [...batch, pendingCap],
      );
      for (const row of full) await enforceCap(connection, Number(row.userid), pendingCap);
    }
    const { key: _key, recipients: _recipients, ...fields } = message;
    return { mid, ...fields };
  }
}

/** Counts the user's pending rows and drops the oldest beyond the cap (Mailbox row locked). */
async function enforceCap(connection: PoolConnection, userId: number, pendingCap: number) {
  const [{ count }] = await select(
    connection,
    "SELECT COUNT(*) AS count FROM OfflineMessage WHERE userid = ?",
    [userId],
  );
  const excess = Math.max(0, Number(count) - pendingCap);
  if (excess > 0) {
    await modify(connection, "DELETE FROM OfflineMessage WHERE userid = ? ORDER BY mid LIMIT ?", [
      userId,
      excess,
    ]);
  }
  await modify(
    connection,
    "UPDATE Mailbox SET pending = ?, dropped = dropped + ? WHERE userid = ?",
    [Number(count) - excess, excess, userId],
  );
}

function toMessage(row: RowDataPacket): StoredMessage {
  return {
    mid: Number(row.mid),
    senderId: Number(row.senderid),
    senderName: String(row.sendername),
    toId: row.toid === null ? null : Number(row.toid),
    groupId: row.groupid === null ? null : Number(row.groupid),
    msg: String(row.msg),
    time: String(row.time),
  };
}
