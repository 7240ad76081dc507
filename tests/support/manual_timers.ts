// Timers for tests in which time passes only when the test says so: a policy given these (the
// Timers of lib/shared_deadline.ts) sees its timeouts fire on fire(), never by the clock.

import type { Timers } from "../../lib/shared_deadline.ts";

export class ManualTimers implements Timers {
  readonly #due = new Map<number, () => void>();
  #next = 1;

  setTimeout(callback: () => void): unknown {
    this.#due.set(this.#next, callback);
    return this.#next++;
  }

  clearTimeout(handle: unknown): void {
    this.#due.delete(handle as number);
  }

  /** Timers started and neither fired nor cleared. */
  get waiting(): number {
    return this.#due.size;
  }

  /** Fires every timer started so far. */
  fire(): void {
    const due = [...this.#due.values()];
    this.#due.clear();
    for (const callback of due) callback();
  }
}
