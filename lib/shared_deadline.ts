// A timeout shared by the waits that start within the same few milliseconds: one timer for
// many waits instead of one each, cleared when none of them waits any more. A wait expires
// between `ms - GRAIN_MS` and `ms` after it starts. The timer functions are injected, so tests
// decide when time passes.

/** setTimeout and clearTimeout, or a test's stand-ins. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const SYSTEM_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** setTimeout and clearTimeout that do not keep the process alive (a summary is not worth it). */
export const UNREF_TIMERS: Timers = {
  setTimeout: (callback, ms) => {
    const id = setTimeout(callback, ms);
    Deno.unrefTimer(id);
    return id;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** One wait: `expired` resolves when its time is up; `done` says it no longer waits. */
export interface Deadline {
  expired: Promise<void>;
  done(): void;
}

interface Slot {
  startedAt: number;
  expired: Promise<void>;
  waiting: number;
  timer: unknown;
}

export class SharedDeadline {
  static readonly GRAIN_MS = 10;
  readonly #ms: number;
  readonly #timers: Timers;
  #current: Slot | null = null;

  constructor(ms: number, timers: Timers = SYSTEM_TIMERS) {
    this.#ms = ms;
    this.#timers = timers;
  }

  start(): Deadline {
    const now = performance.now();
    let slot = this.#current;
    if (!slot || now - slot.startedAt > SharedDeadline.GRAIN_MS) {
      const { promise, resolve } = Promise.withResolvers<void>();
      const made: Slot = {
        startedAt: now,
        expired: promise,
        waiting: 0,
        timer: this.#timers.setTimeout(() => {
          if (this.#current === made) this.#current = null;
          resolve();
        }, this.#ms),
      };
      slot = this.#current = made;
    }
    const current = slot;
    current.waiting++;
    let done = false;
    return {
      expired: current.expired,
      done: () => {
        if (done) return;
        done = true;
        if (--current.waiting > 0) return;
        this.#timers.clearTimeout(current.timer);
        if (this.#current === current) this.#current = null;
      },
    };
  }
}
