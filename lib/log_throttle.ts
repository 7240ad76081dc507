// Keeps a failure that repeats per message (a publish while Redis is away, a presence lookup
// during a failover) from flooding the log: the first warning of a kind is logged at once; the
// ones after it within the interval are only counted, and at the end of the interval one
// summary line says how many there were, with the fields of the last. After an interval without
// any, the kind is forgotten, so the next failure is again logged at once. Only the log lines
// are thinned: callers count every failure in their metrics as before. Time passes through the
// injected timers, so tests decide when an interval ends.

import type { LogFields, Logger } from "./log.ts";
import { type Timers, UNREF_TIMERS } from "./shared_deadline.ts";

/** Default interval between the lines of one kind: 10 s. */
export const LOG_THROTTLE_INTERVAL_MS = 10_000;
/** Default number of kinds remembered at once; the others share one summary. */
export const LOG_THROTTLE_MAX_KINDS = 100;
/** The kind that warnings beyond the cap of kinds are counted in. */
const OTHER_KINDS = "\0other";

export interface LogThrottleOptions {
  /** How long after a line of a kind the next one may come, ms; LOG_THROTTLE_INTERVAL_MS. */
  intervalMs?: number;
  /** Most kinds remembered at once; LOG_THROTTLE_MAX_KINDS. */
  maxKinds?: number;
  /** The timers that end intervals; UNREF_TIMERS by default. */
  timers?: Timers;
}

type Level = "warn" | "error";

interface KindState {
  level: Level;
  event: string;
  /** Warnings since the last line of this kind. */
  suppressed: number;
  /** The fields of the last of them, for the summary. */
  fields: LogFields;
  timer: unknown;
}

export class LogThrottle {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #maxKinds: number;
  readonly #timers: Timers;
  /** The kinds logged within the last interval; at most `maxKinds` + 1 (the others). */
  readonly #kinds = new Map<string, KindState>();

  constructor(log: Logger, options: LogThrottleOptions = {}) {
    this.#log = log;
    this.#intervalMs = options.intervalMs ?? LOG_THROTTLE_INTERVAL_MS;
    this.#maxKinds = options.maxKinds ?? LOG_THROTTLE_MAX_KINDS;
    this.#timers = options.timers ?? UNREF_TIMERS;
  }

  /** A warning; `kind` (the event by default) says which ones are alike. */
  warn(event: string, fields: LogFields = {}, kind: string = event): void {
    this.#report("warn", event, fields, kind);
  }

  /** An error; `kind` (the event by default) says which ones are alike. */
  error(event: string, fields: LogFields = {}, kind: string = event): void {
    this.#report("error", event, fields, kind);
  }

  #report(level: Level, event: string, fields: LogFields, kind: string): void {
    const key = `${level} ${kind}`;
    const known = this.#kinds.get(key);
    if (known) {
      known.suppressed++;
      known.fields = fields;
      return;
    }
    if (this.#kinds.size >= this.#maxKinds) {
      this.#countOther(level);
      return;
    }
    this.#log[level](event, fields);
    this.#remember(key, { level, event, suppressed: 0, fields, timer: undefined });
  }

  /** A warning of a new kind beyond the cap: counted in one summary for all such. */
  #countOther(level: Level): void {
    const other = this.#kinds.get(OTHER_KINDS);
    if (other) {
      other.suppressed++;
      return;
    }
    this.#remember(OTHER_KINDS, {
      level,
      event: "warnings of other kinds",
      suppressed: 1,
      fields: {},
      timer: undefined,
    });
  }

  #remember(key: string, state: KindState): void {
    this.#kinds.set(key, state);
    state.timer = this.#timers.setTimeout(() => this.#intervalEnded(key, state), this.#intervalMs);
  }

  #intervalEnded(key: string, state: KindState): void {
    if (state.suppressed === 0) {
      this.#kinds.delete(key);
      return;
    }
    this.#summarise(state);
    state.suppressed = 0;
    state.timer = this.#timers.setTimeout(() => this.#intervalEnded(key, state), this.#intervalMs);
  }

  #summarise(state: KindState): void {
    const count = state.suppressed.toLocaleString("en-US");
    const seconds = Math.round(this.#intervalMs / 100) / 10;
    this.#log[state.level](
      `${state.event} (${count} more like it in the last ${seconds} s)`,
      { ...state.fields, suppressed: state.suppressed },
    );
  }
}
