// Shared by the SQLite repositories: row and statement types, and the wrapper that turns
// synchronous SQLite work into a promise with the store's error mapping.

import type { StatementSync } from "node:sqlite";
import { setImmediate } from "node:timers";
import { ChatError, Errno, StorageError } from "../errors.ts";

const SQLITE_CONSTRAINT_UNIQUE = 2067;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;

export type Row = Record<string, unknown>;

/** The columns of a message row that make a StoredMessage. */
export const MESSAGE_COLUMNS = "mid, sender_id, sender_name, to_id, group_id, msg, time";
export type Prepare = (text: string) => StatementSync;
export type Transaction = <T>(work: () => T) => T;

/** Runs synchronous SQLite work as a promise, mapping unique violations to CONFLICT. */
export function run<T>(work: () => T, conflictMessage?: string): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(storeError(error, conflictMessage));
  }
}

/** Runs work in the turn's group-commit transaction, with the store's error mapping. */
export function runBatched<T>(batch: TurnBatch, work: () => T): Promise<T> {
  return batch.submit(work).catch((error) => Promise.reject(storeError(error)));
}

function storeError(error: unknown, conflictMessage?: string): ChatError {
  const code = (error as { errcode?: number }).errcode;
  if (
    conflictMessage !== undefined &&
    (code === SQLITE_CONSTRAINT_UNIQUE || code === SQLITE_CONSTRAINT_PRIMARYKEY)
  ) {
    return new ChatError(Errno.CONFLICT, conflictMessage);
  }
  if (error instanceof ChatError) return error;
  return new StorageError(`SQLite: ${messageOf(error)}`, { cause: error });
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Group commit: work submitted during one turn of the event loop runs in a single SQLite
 * transaction, and every promise settles after the COMMIT, so a caller told "done" is durable.
 * When any piece fails, the whole transaction is rolled back and each piece runs again in a
 * transaction of its own, so one failure undoes only its own changes. One commit per turn
 * instead of one per message is what lets the embedded store keep up with a busy server: a
 * commit writes every page the transaction touched to the WAL.
 */
export class TurnBatch {
  readonly #exec: (sql: string) => void;
  #queue: { work: () => unknown; settle: (outcome: Outcome) => void }[] = [];

  /** `exec` runs one statement, preferably from a cache of prepared statements. */
  constructor(exec: (sql: string) => void) {
    this.#exec = exec;
  }

  submit<T>(work: () => T): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    if (this.#queue.length === 0) setImmediate(() => this.#flush());
    this.#queue.push({
      work,
      settle: (outcome) => outcome.ok ? resolve(outcome.value as T) : reject(outcome.error),
    });
    return promise;
  }

  #flush(): void {
    const queue = this.#queue;
    this.#queue = [];
    const outcomes = this.#inTransaction(() => queue.map((item) => item.work()));
    if (outcomes.ok) {
      queue.forEach((item, index) => item.settle({ ok: true, value: outcomes.value[index] }));
    } else if (queue.length === 1) {
      queue[0].settle(outcomes);
    } else {
      for (const item of queue) item.settle(this.#inTransaction(item.work));
    }
  }

  #inTransaction<T>(work: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
    try {
      this.#exec("BEGIN IMMEDIATE");
    } catch (error) {
      return { ok: false, error };
    }
    try {
      const value = work();
      this.#exec("COMMIT");
      return { ok: true, value };
    } catch (error) {
      try {
        this.#exec("ROLLBACK");
      } catch {
        // A failed COMMIT may have ended the transaction already.
      }
      return { ok: false, error };
    }
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
