// Group commit for a store reached over the network: work submitted during one event-loop turn,
// or while the allowed number of earlier batches is still in flight, is handed to `flush` as one
// batch. Under light load every item goes alone one turn later; under heavy load batches grow
// by themselves, so a busy server issues fewer, larger statements instead of more small ones.

import { setImmediate } from "node:timers";

/** Each item's own outcome: one failing item need not fail the others of its batch. */
export type Flush<T, R> = (items: T[]) => Promise<PromiseSettledResult<R>[]>;

export interface TurnQueueOptions {
  /** Batches in flight at once. */
  maxInFlight: number;
  /** Most items in one batch. */
  maxBatch: number;
}

export class TurnQueue<T, R> {
  readonly #flush: Flush<T, R>;
  readonly #options: TurnQueueOptions;
  #queue: { item: T; resolve: (value: R) => void; reject: (error: unknown) => void }[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(flush: Flush<T, R>, options: TurnQueueOptions) {
    this.#flush = flush;
    this.#options = options;
  }

  submit(item: T): Promise<R> {
    const { promise, resolve, reject } = Promise.withResolvers<R>();
    this.#queue.push({ item, resolve, reject });
    this.#schedule();
    return promise;
  }

  #schedule(): void {
    if (this.#scheduled || this.#queue.length === 0) return;
    if (this.#inFlight >= this.#options.maxInFlight) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flushNext();
    });
  }

  async #flushNext(): Promise<void> {
    const batch = this.#queue.splice(0, this.#options.maxBatch);
    if (batch.length === 0) return;
    this.#inFlight++;
    this.#schedule();
    try {
      const outcomes = await this.#flush(batch.map((entry) => entry.item));
      batch.forEach((entry, index) => {
        const outcome = outcomes[index];
        if (outcome.status === "fulfilled") entry.resolve(outcome.value);
        else entry.reject(outcome.reason);
      });
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    } finally {
      this.#inFlight--;
      this.#schedule();
    }
  }
}
