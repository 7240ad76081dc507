// Shared by the SQLite repositories: row and statement types, and the wrapper that turns
// synchronous SQLite work into a promise with the store's error mapping.

import type { StatementSync } from "node:sqlite";
import { setImmediate } from "node:timers";
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
 * transaction, each piece inside its own savepoint so that one failure undoes only its own
 * changes. Every promise settles after the COMMIT, so a caller that is told "done" is durable.
 * One commit per turn instead of one per message is what lets the embedded store keep up with
 * a busy server: a commit writes every page the transaction touched to the WAL.
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
    const outcomes: Outcome[] = [];
    try {
      this.#exec("BEGIN IMMEDIATE");
    } catch (error) {
      for (const item of queue) item.settle({ ok: false, error });
      return;
    }
    for (const item of queue) {
      this.#exec("SAVEPOINT work");
      try {
        outcomes.push({ ok: true, value: item.work() });
        this.#exec("RELEASE work");
      } catch (error) {
        this.#exec("ROLLBACK TO work");
        this.#exec("RELEASE work");
        outcomes.push({ ok: false, error });
      }
    }
    try {
      this.#exec("COMMIT");
    } catch (error) {
      try {
        this.#exec("ROLLBACK");
      } catch {
        // The failed COMMIT already ended the transaction.
      }
      for (const item of queue) item.settle({ ok: false, error });
      return;
    }
    queue.forEach((item, index) => item.settle(outcomes[index]));
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
