// Latency histogram for the load generator: log-spaced buckets 1% wide, so generator workers can
// record millions of samples in constant memory, ship them to the coordinator as JSON and merge.

const MIN_MS = 0.001;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);

/** A histogram as it travels between processes: bucket index → count, plus the exact maximum. */
export interface HistogramData {
  buckets: Record<string, number>;
  count: number;
  maxMs: number;
}

export class LatencyHistogram {
  readonly #buckets = new Map<number, number>();
  #count = 0;
  #maxMs = 0;

  static from(data: HistogramData): LatencyHistogram {
    const histogram = new LatencyHistogram();
    histogram.merge(data);
    return histogram;
  }

  get count(): number {
    return this.#count;
  }

  get maxMs(): number {
    return this.#maxMs;
  }

  record(ms: number): void {
    const index = ms <= MIN_MS ? 0 : Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH);
    this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + 1);
    this.#count++;
    if (ms > this.#maxMs) this.#maxMs = ms;
  }

  merge(data: HistogramData): void {
    for (const [index, count] of Object.entries(data.buckets)) {
      const key = Number(index);
      this.#buckets.set(key, (this.#buckets.get(key) ?? 0) + count);
    }
    this.#count += data.count;
    this.#maxMs = Math.max(this.#maxMs, data.maxMs);
  }

  /** The latency below which a fraction `q` of samples fall (at most 1% high), or NaN if empty. */
  quantile(q: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (const index of [...this.#buckets.keys()].sort((a, b) => a - b)) {
      seen += this.#buckets.get(index)!;
      if (seen >= rank) return Math.min(MIN_MS * GROWTH ** index, this.#maxMs);
    }
    return this.#maxMs;
  }

  toJSON(): HistogramData {
    return {
      buckets: Object.fromEntries(this.#buckets),
      count: this.#count,
      maxMs: this.#maxMs,
    };
  }
}
