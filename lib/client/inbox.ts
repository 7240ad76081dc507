// What the client has received: shows each chat message once (by mid) even when the server
// delivers it again after a reconnect, and acknowledges received mids in batches (RECEIPT).

import { Limits } from "../protocol.ts";

/** How many recent mids are remembered for dedupe; far above what one redelivery repeats. */
const REMEMBERED_MIDS = 20_000;
/** How long received mids wait to share one RECEIPT, ms. */
const RECEIPT_DELAY_MS = 20;

export class Inbox {
  readonly #seen = new Set<number>();
  readonly #unacknowledged = new Set<number>();
  readonly #sendReceipt: (mids: number[]) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `sendReceipt` sends one RECEIPT; it is called with at most Limits.receiptMids mids. */
  constructor(sendReceipt: (mids: number[]) => void) {
    this.#sendReceipt = sendReceipt;
  }

  /**
   * Records that the message `mid` arrived and schedules its receipt. Returns true the first
   * time, false for a message already shown.
   */
  receive(mid: number): boolean {
    this.#unacknowledged.add(mid);
    this.#schedule();
    if (this.#seen.has(mid)) return false;
    this.#seen.add(mid);
    if (this.#seen.size > REMEMBERED_MIDS) {
      this.#seen.delete(this.#seen.values().next().value!);
    }
    return true;
  }

  /** Sends the receipts still waiting now (for example before logging out). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#unacknowledged.size > 0) {
      const mids = [...this.#unacknowledged].slice(0, Limits.receiptMids);
      for (const mid of mids) this.#unacknowledged.delete(mid);
      this.#sendReceipt(mids);
    }
  }

  /** Forgets receipts not sent yet: the connection they were for is gone, the server resends. */
  dropUnsent(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unacknowledged.clear();
  }

  #schedule(): void {
    if (this.#unacknowledged.size >= Limits.receiptMids) return this.flush();
    this.#timer ??= setTimeout(() => this.flush(), RECEIPT_DELAY_MS);
  }
}
