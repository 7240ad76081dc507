// One measurement phase inside a generator worker: the clock window that counts, the latency
// histogram, errors, and the work still in flight (a phase ends when none is left, or when the
// drain time runs out and what is left counts as lost).

import type { PhaseResult, Timing } from "./commands.ts";
import { LatencyHistogram } from "./stats.ts";

const MAX_PROBLEMS = 5;
const POLL_MS = 5;

export class Phase {
  readonly #histogram = new LatencyHistogram();
  readonly #from: number;
  readonly #to: number;
  readonly #drainMs: number;
  readonly #problems: string[] = [];
  #completed = 0;
  #errors = 0;
  #inFlight = 0;

  /** Without timing, everything from now on counts and there is no deadline for new work. */
  constructor(timing: Timing | null) {
    const start = performance.now();
    this.#from = start + (timing?.warmupMs ?? 0);
    this.#to = timing ? this.#from + timing.measureMs : Infinity;
    this.#drainMs = timing?.drainMs ?? 0;
  }

  /** True while new work may start. */
  get running(): boolean {
    return performance.now() < this.#to;
  }

  /** Work started that must complete (a delivery or a reply). */
  begin(count = 1): void {
    this.#inFlight += count;
  }

  /** A unit of work completed, `latencyMs` after it began; counted if it lands in the window. */
  complete(latencyMs: number): void {
    this.#inFlight--;
    const now = performance.now();
    if (now >= this.#from && now < this.#to) {
      this.#completed++;
      this.#histogram.record(latencyMs);
    }
  }

  /** A unit of work failed. */
  abort(problem: string): void {
    this.#inFlight--;
    this.fail(problem);
  }

  /** Tracks a request whose reply must have errno 0 (e.g. the ACK of a chat message). */
  expectOk(reply: Promise<Record<string, unknown>>, what: string): void {
    this.#inFlight++;
    reply.then(
      (frame) => {
        this.#inFlight--;
        if (frame.errno !== 0) this.fail(`${what}: ${JSON.stringify(frame)}`);
      },
      (error) => {
        this.#inFlight--;
        this.fail(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  }

  fail(problem: string, count = 1): void {
    this.#errors += count;
    if (this.#problems.length < MAX_PROBLEMS) this.#problems.push(problem);
  }

  /** Waits for the window to close and in-flight work to finish (or the drain to run out). */
  async finish(): Promise<PhaseResult> {
    const windowEnd = Number.isFinite(this.#to) ? this.#to : performance.now();
    const deadline = windowEnd + this.#drainMs;
    while (performance.now() < windowEnd) await sleep(Math.min(windowEnd - performance.now(), 100));
    while (this.#inFlight > 0 && performance.now() < deadline) await sleep(POLL_MS);
    if (this.#inFlight > 0) {
      const missing = this.#inFlight;
      this.fail(`${missing} deliveries or replies still missing after the drain time`, missing);
    }
    return {
      completed: this.#completed,
      windowMs: windowEnd - this.#from,
      histogram: this.#histogram.toJSON(),
      errors: this.#errors,
      problems: this.#problems,
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
