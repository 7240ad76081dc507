// Admission to password hashing (scrypt), which costs a core and 16 MiB per derivation while it
// runs: at most `slots` derivations at once, in two lanes. Logins (and password changes) always
// go before registrations, so a flood of REGISTERs from any number of connections delays a login
// by at most the derivations already running, never by the registrations queued. Each queue
// holds at most one waiter per connection (a connection handles one request at a time), so the
// queues are bounded by --max-connections.

import { CancelledError } from "./errors.ts";

/** Whose work a derivation is: a login or password change, or a new account. */
export type HashLane = "login" | "register";

interface Waiter {
  grant: () => void;
}

export class HashSlots {
  readonly slots: number;
  #running = 0;
  readonly #queues: Record<HashLane, Waiter[]> = { login: [], register: [] };

  constructor(slots: number) {
    this.slots = slots;
  }

  /** Derivations running now. */
  get running(): number {
    return this.#running;
  }

  /** Derivations waiting in `lane`. */
  waiting(lane: HashLane): number {
    return this.#queues[lane].length;
  }

  /**
   * Waits for a slot in `lane` and returns its release function (call it exactly once).
   * CancelledError when `signal` aborts before the slot is granted.
   */
  acquire(lane: HashLane, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new CancelledError());
    const ahead = lane === "login"
      ? this.#queues.login.length
      : this.#queues.login.length + this.#queues.register.length;
    if (this.#running < this.slots && ahead === 0) {
      this.#running++;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const queue = this.#queues[lane];
      const abandon = () => {
        const index = queue.indexOf(waiter);
        if (index >= 0) queue.splice(index, 1);
        reject(new CancelledError());
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", abandon);
          resolve(this.#releaser());
        },
      };
      signal?.addEventListener("abort", abandon, { once: true });
      queue.push(waiter);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queues.login.shift() ?? this.#queues.register.shift();
      if (next) next.grant();
      else this.#running--;
    };
  }
}
