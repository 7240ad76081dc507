// Shared by the MySQL repositories: statement helpers, transactions, batching and the wrapper
// that maps driver failures to the store's errors (duplicate key -> CONFLICT, else errno 9).

import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import { ChatError, Errno, StorageError } from "../errors.ts";

export type SqlValue = string | number | null;
export type Queryable = Pool | PoolConnection;

export const ER_DUP_ENTRY = 1062;
const ER_LOCK_WAIT_TIMEOUT = 1205;
const ER_LOCK_DEADLOCK = 1213;
/** A transaction chosen as a deadlock victim is run again this many times before failing. */
const TRANSACTION_ATTEMPTS = 3;
/**
 * Most rows in one statement. Variable-length statements are issued in batches whose sizes
 * are powers of two up to this, so each pooled connection prepares at most 7 shapes of each.
 */
const MAX_ROWS_PER_STATEMENT = 64;

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

/** Splits items into consecutive batches of power-of-two sizes up to MAX_ROWS_PER_STATEMENT. */
export function* batches<T>(items: readonly T[]): Generator<readonly T[]> {
  let start = 0;
  while (start < items.length) {
    let size = MAX_ROWS_PER_STATEMENT;
    while (size > items.length - start) size /= 2;
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
