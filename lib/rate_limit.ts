// Admission policies against floods and password guessing: a token bucket per connection, and
// a throttle that refuses logins to an account after repeated failures.

/** Allows `ratePerSecond` on average, with bursts up to `burst`. */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #updated: number;

  constructor(ratePerSecond: number, burst: number, now: () => number = () => performance.now()) {
    this.#rate = ratePerSecond / 1000;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#updated = now();
  }

  /** Takes one token; false when none is left. */
  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#updated) * this.#rate);
    this.#updated = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export interface LoginThrottleOptions {
  /** Failed logins allowed per account within the window. Default 5. */
  maxFailures?: number;
  /** Window in milliseconds. Default 60 s. */
  windowMs?: number;
  now?: () => number;
}

const PRUNE_ABOVE = 10_000;

/**
 * Counts login attempts per account and refuses more while too many recent ones failed. An
 * attempt counts as a failure from the moment it is admitted, before its password is checked,
 * so concurrent guesses cannot all slip in while the first ones are still being hashed; a
 * successful login clears the account's count. Holds at most PRUNE_ABOVE accounts before it
 * forgets those with nothing recent.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, number[]>();
  readonly #max: number;
  readonly #window: number;
  readonly #now: () => number;

  constructor(options: LoginThrottleOptions = {}) {
    this.#max = options.maxFailures ?? 5;
    this.#window = options.windowMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Admits an attempt to log in to `account` (counting it as failed until it succeeds), or not. */
  attempt(account: string): boolean {
    const recent = this.#recent(account);
    if (recent.length >= this.#max) return false;
    recent.push(this.#now());
    this.#failures.set(account, recent);
    if (this.#failures.size > PRUNE_ABOVE) {
      for (const key of [...this.#failures.keys()]) this.#recent(key);
    }
    return true;
  }

  /** The attempt succeeded: the account's count starts again. */
  succeeded(account: string): void {
    this.#failures.delete(account);
  }

  #recent(account: string): number[] {
    const since = this.#now() - this.#window;
    const recent = (this.#failures.get(account) ?? []).filter((time) => time > since);
    if (recent.length === 0) this.#failures.delete(account);
    return recent;
  }
}
