// Shared by the MySQL repositories: statement helpers, transactions, batching and the wrapper
// that maps driver failures to the store's errors (duplicate key -> CONFLICT, else errno 9).

import mysql from "mysql2/promise";
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import { ChatError, Errno, StorageError } from "../errors.ts";

/** An integer sent as such, a BIGINT (see rowCount and bigInteger). */
export type BoundInteger = ReturnType<typeof mysql.TypedParameter.LONGLONG>;

export type SqlValue = string | number | null | BoundInteger;
export type Queryable = Pool | PoolConnection;

export const ER_DUP_ENTRY = 1062;
const ER_LOCK_WAIT_TIMEOUT = 1205;
const ER_LOCK_DEADLOCK = 1213;
/** A transaction chosen as a deadlock victim is run again this many times before failing. */
const TRANSACTION_ATTEMPTS = 3;
/**
 * Most rows in one statement. A variable-length statement is prepared once per row count it is
 * used with, on each pooled connection; batches() keeps those counts to a few shapes.
 */
const MAX_ROWS_PER_STATEMENT = 64;
/** Row counts above this are rounded down to a multiple of it (the rest goes in a second one). */
const ROW_STEP = 8;

/**
 * A row count for `LIMIT ?`. mysql2 sends a JavaScript number as a DOUBLE, which MySQL 8.0.22
 * and later reject there ("Incorrect arguments to mysqld_stmt_execute", node-mysql2 issue 1239;
 * MariaDB lets it pass); this one goes as a BIGINT. Anything but a non-negative safe integer is
 * a RangeError, never sent.
 */
export function rowCount(count: number): BoundInteger {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`Cannot use ${count} as a row count: expected a non-negative integer`);
  }
  return bigInteger(count);
}

/**
 * An integer compared with or stored in a BIGINT column (a mid, a cursor's owner), bound as a
 * BIGINT rather than the DOUBLE mysql2 makes of a number. Anything but a safe integer is a
 * RangeError, never sent.
 */
export function bigInteger(value: number): BoundInteger {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`Cannot use ${value} as an integer: expected a safe integer`);
  }
  return mysql.TypedParameter.LONGLONG(value);
}

export async function select(
  db: Queryable,
  sql: string,
  values: SqlValue[],
): Promise<RowDataPacket[]> {
  const [rows] = await db.execute<RowDataPacket[]>(sql, values);
  return rows;
}

export async function modify(
  db: Queryable,
  sql: string,
  values: SqlValue[],
): Promise<ResultSetHeader> {
  const [result] = await db.execute<ResultSetHeader>(sql, values);
  return result;
}

/**
 * Runs `work` in a transaction on one pooled connection: committed when it succeeds, rolled
 * back when anything fails, and run again when MySQL chose it as a deadlock victim. A
 * connection that cannot even roll back is destroyed, not reused.
 */
export async function inTransaction<T>(
  pool: Pool,
  work: (connection: PoolConnection) => Promise<T>,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    const connection = await pool.getConnection();
    try {
      await connection.beginTransaction();
      const result = await work(connection);
      await connection.commit();
      connection.release();
      return result;
    } catch (error) {
      await connection.rollback().then(() => connection.release(), () => connection.destroy());
      if (attempt >= TRANSACTION_ATTEMPTS || !isLockConflict(error)) throw error;
    }
  }
}

/** True for an error the server answered with (not a lost or refused connection). */
export function isServerError(error: unknown): boolean {
  return typeof (error as { sqlState?: unknown }).sqlState === "string";
}

function isLockConflict(error: unknown): boolean {
  const errno = (error as { errno?: number }).errno;
  return errno === ER_LOCK_DEADLOCK || errno === ER_LOCK_WAIT_TIMEOUT;
}

/**
 * Splits items into consecutive batches for one statement each: a multiple of ROW_STEP up to
 * MAX_ROWS_PER_STATEMENT, then what is left (under ROW_STEP). So up to 64 items take at most two
 * statements, each of one of 15 shapes (1-7, 8, 16, ..., 64 rows). Statements of one batch are
 * issued one after the other, each a round trip: with power-of-two sizes, 27 items took four.
 */
export function* batches<T>(items: readonly T[]): Generator<readonly T[]> {
  let start = 0;
  while (start < items.length) {
    const left = items.length - start;
    const size = left < ROW_STEP
      ? left
      : Math.min(MAX_ROWS_PER_STATEMENT, left - (left % ROW_STEP));
    yield items.slice(start, start + size);
    start += size;
  }
}

/** `count` copies of `one`, comma-separated: the placeholders of a parameterized statement. */
export function placeholders(count: number, one = "?"): string {
  return Array(count).fill(one).join(", ");
}

/** Runs store work, turning a duplicate key into CONFLICT and any other failure into errno 9. */
export async function run<T>(work: () => Promise<T>, conflictMessage?: string): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (conflictMessage !== undefined && (error as { errno?: number }).errno === ER_DUP_ENTRY) {
      throw new ChatError(Errno.CONFLICT, conflictMessage);
    }
    if (error instanceof ChatError) throw error;
    throw new StorageError(`MySQL: ${describeError(error)}`, { cause: error });
  }
}

/** One line about a failure; connection errors may carry only a code, or several causes. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message) return error.message;
  if (error instanceof AggregateError && error.errors.length > 0) {
    return describeError(error.errors[0]);
  }
  return (error as { code?: string }).code ?? error.name;
}
