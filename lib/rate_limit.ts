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

/** Counts failed logins per account; refuses further attempts while too many are recent. */
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

  /** True when `account` may try to log in now. */
  allows(account: string): boolean {
    return this.#recent(account).length < this.#max;
  }

  recordFailure(account: string): void {
    const recent = this.#recent(account);
    recent.push(this.#now());
    this.#failures.set(account, recent);
    if (this.#failures.size > PRUNE_ABOVE) {
      for (const key of [...this.#failures.keys()]) this.#recent(key);
    }
  }

  recordSuccess(account: string): void {
    this.#failures.delete(account);
  }

  #recent(account: string): number[] {
    const since = this.#now() - this.#window;
    const recent = (this.#failures.get(account) ?? []).filter((time) => time > since);
    if (recent.length === 0) this.#failures.delete(account);
    return recent;
  }
}
