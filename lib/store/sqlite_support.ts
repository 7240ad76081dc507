// Shared by the SQLite repositories: row and statement types, and the wrapper that turns
// synchronous SQLite work into a promise with the store's error mapping.

import type { StatementSync } from "node:sqlite";
import { ChatError, Errno, StorageError } from "../errors.ts";

const SQLITE_CONSTRAINT_UNIQUE = 2067;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;

export type Row = Record<string, unknown>;
export type Prepare = (text: string) => StatementSync;
export type Transaction = <T>(work: () => T) => T;

/** Runs synchronous SQLite work as a promise, mapping unique violations to CONFLICT. */
export function run<T>(work: () => T, conflictMessage?: string): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    const code = (error as { errcode?: number }).errcode;
    if (
      conflictMessage !== undefined &&
      (code === SQLITE_CONSTRAINT_UNIQUE || code === SQLITE_CONSTRAINT_PRIMARYKEY)
    ) {
      return Promise.reject(new ChatError(Errno.CONFLICT, conflictMessage));
    }
    if (error instanceof ChatError) return Promise.reject(error);
    return Promise.reject(new StorageError(`SQLite: ${messageOf(error)}`, { cause: error }));
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
