// Writing messages to MySQL, inside a transaction the caller holds: the Message rows (their
// mids from one INSERT ... RETURNING where the server has it), one OfflineMessage row per
// recipient, the Mailbox counters, and the trim of whoever passes the pending cap.
//
// Locking: the Mailbox rows of all recipients are locked in ascending user id, in one
// statement, so two batches never deadlock on each other (a deadlock from elsewhere is retried
// by inTransaction).

import type { PoolConnection } from "mysql2/promise";
import {
  batches,
  isServerError,
  modify,
  placeholders,
  type Queryable,
  rowCount,
  select,
} from "./mysql_support.ts";
import type { AppendResult, NewMessage, StoredMessage } from "./types.ts";

/** What the server offers beyond what every supported MySQL and MariaDB has. */
export interface ServerFeatures {
  /**
   * INSERT ... RETURNING (MariaDB 10.5+): a batch's messages get their mids, and the Mailbox
   * upsert its counters, in one statement each.
   */
  insertReturning: boolean;
}

/**
 * Stores the messages and a pending delivery for each of their recipients, and trims who is now
 * over the cap, on `connection` inside the caller's transaction. Returns the stored messages.
 */
export async function insertMessages(
  connection: PoolConnection,
  messages: NewMessage[],
  { server, pendingCap }: { server: ServerFeatures; pendingCap: number },
): Promise<StoredMessage[]> {
  const mids = server.insertReturning && messages.length > 1
    ? await insertReturningMids(connection, messages)
    : await insertOneByOne(connection, messages);
  const stored = messages.map((message, index) => storedAs(message, mids[index]));
  const deliveries = messages.flatMap((message, index) =>
    [...new Set(message.recipients)].map((userId): [number, number] => [userId, stored[index].mid])
  );
  await addDeliveries(connection, deliveries, { server, pendingCap });
  return stored;
}

/**
 * Stores messages pending for nobody (every recipient took them directly) with one
 * INSERT ... RETURNING per batch of rows, each committing on its own: no transaction is needed,
 * so a batch costs one round trip. Each batch's outcome is its own: a batch the server refuses
 * is run again message by message with `one`; after a failure that is not the server's answer
 * (connection lost) nothing more is tried.
 */
export async function insertUnaddressed(
  db: Queryable,
  messages: NewMessage[],
  one: (message: NewMessage) => Promise<AppendResult>,
): Promise<PromiseSettledResult<AppendResult>[]> {
  const outcomes: PromiseSettledResult<AppendResult>[] = [];
  let lost: { reason: unknown } | null = null;
  for (const batch of batches(messages)) {
    if (lost) {
      outcomes.push(...batch.map(() => ({ status: "rejected" as const, reason: lost!.reason })));
      continue;
    }
    try {
      const mids = await insertReturningMids(db, batch);
      outcomes.push(...batch.map((message, index) => ({
        status: "fulfilled" as const,
        value: { message: storedAs(message, mids[index]), duplicate: false },
      })));
    } catch (reason) {
      if (!isServerError(reason)) {
        lost = { reason };
        outcomes.push(...batch.map(() => ({ status: "rejected" as const, reason })));
        continue;
      }
      for (const message of batch) {
        outcomes.push(
          await one(message).then(
            (value) => ({ status: "fulfilled" as const, value }),
            (reason) => ({ status: "rejected" as const, reason }),
          ),
        );
      }
    }
  }
  return outcomes;
}

function storedAs({ key: _key, recipients: _recipients, ...fields }: NewMessage, mid: number) {
  return { mid, ...fields };
}

/**
 * Adds the (user, mid) pending deliveries, counts them in the Mailbox and trims who is now over
 * the cap, on `connection` inside the caller's transaction. A delivery already there is kept
 * once (counting it again only makes its user's rows be counted sooner).
 */
export async function addDeliveries(
  connection: PoolConnection,
  deliveries: [number, number][],
  { server, pendingCap }: { server: ServerFeatures; pendingCap: number },
): Promise<void> {
  if (deliveries.length === 0) return;
  const added = new Map<number, number>();
  for (const [userId] of deliveries) added.set(userId, (added.get(userId) ?? 0) + 1);
  const counts = [...added].sort(([a], [b]) => a - b);
  const overCap = await countDeliveries(connection, counts, { server, pendingCap });
  for (const batch of batches(deliveries)) {
    await modify(
      connection,
      `INSERT INTO OfflineMessage (userid, mid) VALUES ${placeholders(batch.length, "(?, ?)")}
       ON DUPLICATE KEY UPDATE mid = mid`,
      batch.flat(),
    );
  }
  for (const userId of overCap) await enforceCap(connection, userId, pendingCap);
}

/**
 * Adds each user's new deliveries to their Mailbox counter (ascending user id); returns the
 * users whose counter is now above the cap. Where the server has RETURNING, the counters come
 * back from the same statement.
 */
async function countDeliveries(
  connection: PoolConnection,
  counts: [number, number][],
  { server, pendingCap }: { server: ServerFeatures; pendingCap: number },
): Promise<number[]> {
  const overCap: number[] = [];
  for (const batch of batches(counts)) {
    const upsert = `INSERT INTO Mailbox (userid, pending)
      VALUES ${placeholders(batch.length, "(?, ?)")}
      ON DUPLICATE KEY UPDATE pending = pending + VALUES(pending)`;
    if (server.insertReturning) {
      const rows = await select(connection, `${upsert} RETURNING userid, pending`, batch.flat());
      for (const row of rows) {
        if (Number(row.pending) > pendingCap) overCap.push(Number(row.userid));
      }
      continue;
    }
    await modify(connection, upsert, batch.flat());
    const full = await select(
      connection,
      `SELECT userid FROM Mailbox WHERE userid IN (${placeholders(batch.length)}) AND pending > ?`,
      [...batch.map(([userId]) => userId), pendingCap],
    );
    overCap.push(...full.map((row) => Number(row.userid)));
  }
  return overCap;
}

const INSERT_MESSAGE =
  "INSERT INTO Message (senderid, sendername, toid, groupid, msg, time, clientkey) VALUES ";
const MESSAGE_ROW = "(?, ?, ?, ?, ?, ?, ?)";

function messageValues(message: NewMessage) {
  return [
    message.senderId,
    message.senderName,
    message.toId,
    message.groupId,
    message.msg,
    message.time,
    message.key,
  ];
}

/** Inserts the messages one statement each; their mids in order. */
async function insertOneByOne(connection: PoolConnection, messages: NewMessage[]) {
  const mids: number[] = [];
  for (const message of messages) {
    const { insertId } = await modify(
      connection,
      INSERT_MESSAGE + MESSAGE_ROW,
      messageValues(message),
    );
    mids.push(insertId);
  }
  return mids;
}

/** Inserts the messages in multi-row statements that return the new mids, in row order. */
async function insertReturningMids(connection: Queryable, messages: readonly NewMessage[]) {
  const mids: number[] = [];
  for (const batch of batches(messages)) {
    const rows = await select(
      connection,
      `${INSERT_MESSAGE}${placeholders(batch.length, MESSAGE_ROW)} RETURNING mid`,
      batch.flatMap(messageValues),
    );
    if (rows.length !== batch.length) {
      throw new Error(`INSERT RETURNING gave ${rows.length} mids for ${batch.length} messages`);
    }
    mids.push(...rows.map((row) => Number(row.mid)));
  }
  return mids;
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
      rowCount(excess),
    ]);
  }
  await modify(
    connection,
    "UPDATE Mailbox SET pending = ?, dropped = dropped + ? WHERE userid = ?",
    [Number(count) - excess, excess, userId],
  );
}
