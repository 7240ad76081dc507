// How many accounts one source address may register: a token bucket per address of `perHour`
// tokens that refills at `perHour` an hour, so a person or a household registers freely and a
// script on one address gets `perHour` accounts an hour. IPv6 addresses count by their /64 (one
// host usually owns a whole /64). Loopback addresses are not limited: behind a proxy on the same
// host (nginx) every client has one, and so do local tests and tools. Behind a proxy on another
// host every client shares the proxy's address: raise the limit there, or turn it off with 0.
// Remembers at most MAX_ADDRESSES addresses (a full bucket is forgotten first: it means nothing).

const HOUR_MS = 3_600_000;
/** Default registrations per address and hour. */
export const DEFAULT_REGISTER_LIMIT = 20;
export const MAX_ADDRESSES = 10_000;

interface Bucket {
  tokens: number;
  updated: number;
}

export class RegistrationLimit {
  readonly #perHour: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  /** `perHour` 0 turns the limit off. */
  constructor(perHour: number, now: () => number = Date.now) {
    this.#perHour = perHour;
    this.#now = now;
  }

  /** Takes one registration for `address`; false when the address has used its share. */
  take(address: string): boolean {
    if (this.#perHour === 0 || isLoopback(address)) return true;
    const key = addressKey(address);
    const now = this.#now();
    const bucket = this.#refilled(this.#buckets.get(key), now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > MAX_ADDRESSES) this.#prune(now);
    return true;
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#buckets.size;
  }

  #refilled(bucket: Bucket | undefined, now: number): Bucket {
    if (!bucket) return { tokens: this.#perHour, updated: now };
    const tokens = bucket.tokens + (now - bucket.updated) * this.#perHour / HOUR_MS;
    return { tokens: Math.min(this.#perHour, tokens), updated: now };
  }

  #prune(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (this.#refilled(bucket, now).tokens >= this.#perHour) this.#buckets.delete(key);
    }
    // Still full: forget the least recently used (the Map keeps them in that order).
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= MAX_ADDRESSES) break;
      this.#buckets.delete(key);
    }
  }
}

/** The part of an address that names one client: all of IPv4, the /64 of IPv6. */
export function addressKey(address: string): string {
  if (!address.includes(":")) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  const [head, tail = ""] = address.toLowerCase().split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = address.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string): boolean {
  return /^(::ffff:)?127\./i.test(address) || address === "::1";
}
