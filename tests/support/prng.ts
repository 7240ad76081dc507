// A small seeded pseudo-random generator (mulberry32) for tests whose random choices must be
// reproducible: print the seed, and the same seed replays the same choices.

export class Prng {
  readonly seed: number;
  #state: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /** A seed from the environment variable `name` when set, otherwise a random one. */
  static seedFrom(name: string): number {
    const given = Deno.env.get(name);
    if (given !== undefined && given !== "") {
      const seed = Number(given);
      if (!Number.isSafeInteger(seed)) {
        throw new TypeError(`Cannot use ${name}=${given}: not an integer`);
      }
      return seed >>> 0;
    }
    return crypto.getRandomValues(new Uint32Array(1))[0];
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }

  /** A new generator whose sequence depends only on this one's next value. */
  fork(): Prng {
    return new Prng(Math.floor(this.next() * 4294967296));
  }
}
