// The message log and pending deliveries on MySQL: Message keeps every message for history;
// OfflineMessage has a row per recipient and message until the recipient acknowledges it. A
// Mailbox row counts the deliveries added for each user since their rows were last counted:
// acknowledging is a single DELETE, and only a user whose count passes the cap has their rows
// counted (and, if really over, their oldest dropped).
//
// Group commit: appends and acknowledgements arriving together (one event-loop turn, or while
// earlier batches are in flight) share one transaction and multi-row statements (TurnQueue), so
// the statements per message fall as the load rises. A batch the server refuses (a reused
// idempotency key, say) is run again message by message, so only that message is affected.
// The writing itself is lib/store/mysql_append.ts.

import type { Pool, RowDataPacket } from "mysql2/promise";
import {
  addDeliveries,
  insertMessages,
  insertUnaddressed,
  type ServerFeatures,
} from "./mysql_append.ts";
import {
  batches,
  ER_DUP_ENTRY,
  inTransaction,
  isServerError,
  modify,
  placeholders,
  rowCount,
  run,
  select,
} from "./mysql_support.ts";
import { TurnQueue } from "./turn_queue.ts";
import type { AppendResult, MessageRepository, NewMessage, StoredMessage } from "./types.ts";

/** The columns of a Message row that make a StoredMessage (see toMessage). */
export const MESSAGE_COLUMNS = "mid, senderid, sendername, toid, groupid, msg, time";

/** Batches in flight at once (appends, acknowledgements) and the most messages in one. */
const APPENDS_IN_FLIGHT = 2;
const ACKS_IN_FLIGHT = 2;
const MAX_BATCH = 64;

export function mysqlMessages(
  pool: Pool,
  pendingCap: number,
  server: ServerFeatures,
): MessageRepository {
  const writing = { server, pendingCap };
  const appends = new TurnQueue<NewMessage, AppendResult>(appendAll, {
    maxInFlight: APPENDS_IN_FLIGHT,
    maxBatch: MAX_BATCH,
  });
  const acknowledgements = new TurnQueue<[number, number][], void>(acknowledgeAll, {
    maxInFlight: ACKS_IN_FLIGHT,
    maxBatch: MAX_BATCH,
  });

  /**
   * Stores a batch in one transaction; if the server refuses it, each message on its own. A
   * batch pending for nobody needs no transaction (see insertUnaddressed).
   */
  async function appendAll(messages: NewMessage[]): Promise<PromiseSettledResult<AppendResult>[]> {
    if (server.insertReturning && messages.every((message) => message.recipients.length === 0)) {
      return await insertUnaddressed(pool, messages, appendOne);
    }
    if (messages.length > 1) {
      try {
        const stored = await inTransaction(
          pool,
          (connection) => insertMessages(connection, messages, writing),
        );
        return stored.map((message) => ({
          status: "fulfilled",
          value: { message, duplicate: false },
        }));
      } catch (error) {
        // Unreachable server: every message would fail the same way.
        if (!isServerError(error)) throw error;
      }
    }
    // One after another, in order: mids keep the order of submission, and of two messages
    // with the same key the first is stored and the second finds it.
    const outcomes: PromiseSettledResult<AppendResult>[] = [];
    for (const message of messages) {
      try {
        outcomes.push({ status: "fulfilled", value: await appendOne(message) });
      } catch (reason) {
        outcomes.push({ status: "rejected", reason });
      }
    }
    return outcomes;
  }

  /** Stores one message, or finds the earlier one its idempotency key names. */
  async function appendOne(message: NewMessage): Promise<AppendResult> {
    try {
      const [stored] = await inTransaction(
        pool,
        (connection) => insertMessages(connection, [message], writing),
      );
      return { message: stored, duplicate: false };
    } catch (error) {
      const duplicateKey = (error as { errno?: number }).errno === ER_DUP_ENTRY;
      if (!duplicateKey || message.key === null) throw error;
      const [earlier] = await select(
        pool,
        `SELECT ${MESSAGE_COLUMNS} FROM Message WHERE senderid = ? AND clientkey = ?`,
        [message.senderId, message.key],
      );
      if (!earlier) throw error;
      return { message: toMessage(earlier), duplicate: true };
    }
  }

  /** Deletes the (user, mid) deliveries of every acknowledgement in the batch. */
  async function acknowledgeAll(
    acknowledged: [number, number][][],
  ): Promise<PromiseSettledResult<void>[]> {
    const pairs = acknowledged.flat();
    for (const batch of batches(pairs)) {
      await modify(
        pool,
        `DELETE FROM OfflineMessage WHERE (userid, mid) IN (${
          placeholders(batch.length, "(?, ?)")
        })`,
        batch.flat(),
      );
    }
    return acknowledged.map(() => ({ status: "fulfilled", value: undefined }));
  }

  /** Makes each (user, mid) pending, in one transaction; the cap applies as in append. */
  const addPendingPairs = (pairs: [number, number][]): Promise<void> =>
    pairs.length === 0
      ? Promise.resolve()
      : run(() => inTransaction(pool, (connection) => addDeliveries(connection, pairs, writing)));

  return {
    append: (message) => run(() => appends.submit(message)),
    addPending: (mid, userIds) =>
      addPendingPairs([...new Set(userIds)].map((userId): [number, number] => [userId, mid])),
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
    keepPending: (userId, mids) =>
      addPendingPairs([...new Set(mids)].map((mid): [number, number] => [userId, mid])),
    acknowledge: (userId, mids) =>
      mids.length === 0
        ? Promise.resolve()
        : run(() =>
          acknowledgements.submit([...new Set(mids)].map((mid): [number, number] => [userId, mid]))
        ),
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
            `SELECT ${MESSAGE_COLUMNS} FROM Message WHERE groupid = ? AND mid < ?
             ORDER BY mid DESC LIMIT ?`,
            [groupId, before, rowCount(limit)],
          )
          // Two index ranges (one per direction) merged, rather than an OR no index serves.
          : await select(
            pool,
            `(SELECT ${MESSAGE_COLUMNS} FROM Message WHERE senderid = ? AND toid = ? AND mid < ?
              ORDER BY mid DESC LIMIT ?)
             UNION ALL
             (SELECT ${MESSAGE_COLUMNS} FROM Message WHERE senderid = ? AND toid = ? AND mid < ?
              ORDER BY mid DESC LIMIT ?)
             ORDER BY mid DESC LIMIT ?`,
            [
              userId,
              peerId,
              before,
              rowCount(limit),
              peerId,
              userId,
              before,
              rowCount(limit),
              rowCount(limit),
            ],
          );
        return rows.map(toMessage).reverse();
      }),
  };
}

export function toMessage(row: RowDataPacket): StoredMessage {
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
