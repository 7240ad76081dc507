import assert from "node:assert/strict";
import { createLogger } from "../lib/log.ts";
import { LOG_THROTTLE_INTERVAL_MS, LogThrottle } from "../lib/log_throttle.ts";
import type { Timers } from "../lib/shared_deadline.ts";

/** Timers on a clock that moves only when the test says so. */
class FakeClock implements Timers {
  now = 0;
  readonly #due = new Map<number, { at: number; callback: () => void }>();
  #next = 1;

  setTimeout(callback: () => void, ms: number): unknown {
    this.#due.set(this.#next, { at: this.now + ms, callback });
    return this.#next++;
  }

  clearTimeout(handle: unknown): void {
    this.#due.delete(handle as number);
  }

  get pending(): number {
    return this.#due.size;
  }

  /** Moves the clock on by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const next = [...this.#due].filter(([, timer]) => timer.at <= until)
        .sort(([, a], [, b]) => a.at - b.at)[0];
      if (!next) break;
      this.#due.delete(next[0]);
      this.now = next[1].at;
      next[1].callback();
    }
    this.now = until;
  }
}

interface Line {
  level: string;
  event: string;
  [field: string]: unknown;
}

function setup(options: { maxKinds?: number } = {}) {
  const clock = new FakeClock();
  const lines: Line[] = [];
  const log = createLogger({
    level: "debug",
    format: "json",
    write: (line) => lines.push(JSON.parse(line)),
  });
  const throttle = new LogThrottle(log, { timers: clock, ...options });
  return { clock, lines, throttle };
}

const PUBLISH_FAILED = "publish failed; pushes wait for Redis to recover";

Deno.test("the first failure of a kind is logged at once, the rest in one summary per interval", () => {
  const { clock, lines, throttle } = setup();
  throttle.warn(PUBLISH_FAILED, { node: "s1", error: "first" });
  assert.equal(lines.length, 1, "the first at once");
  assert.equal(lines[0].event, PUBLISH_FAILED);
  assert.equal(lines[0].error, "first");

  for (let i = 1; i <= 1234; i++) throttle.warn(PUBLISH_FAILED, { node: `s${i}`, error: `#${i}` });
  clock.advance(LOG_THROTTLE_INTERVAL_MS - 1);
  assert.equal(lines.length, 1, "nothing more within the interval");

  clock.advance(1);
  assert.equal(lines.length, 2, "one summary when the interval ends");
  assert.equal(lines[1].level, "warn");
  assert.equal(lines[1].event, `${PUBLISH_FAILED} (1,234 more like it in the last 10 s)`);
  assert.equal(lines[1].suppressed, 1234);
  assert.equal(lines[1].node, "s1234", "with the fields of the last");
  assert.equal(lines[1].error, "#1234");
});

Deno.test("a failure that keeps going gets at most one line per interval", () => {
  const { clock, lines, throttle } = setup();
  // 100 failures a second for 35 s.
  for (let ms = 0; ms < 35_000; ms += 10) {
    throttle.warn(PUBLISH_FAILED, { error: "down" });
    clock.advance(10);
  }
  assert.equal(lines.length, 4, "the first, then a summary at 10, 20 and 30 s");
  assert.deepEqual(lines.slice(1).map((line) => line.suppressed), [999, 1000, 1000]);
  clock.advance(10_000);
  assert.equal(lines.length, 5, "the last 500 are summed up when their interval ends");
  assert.equal(lines[4].suppressed, 500);
  assert.equal(3500, 1 + lines.slice(1).reduce((sum, line) => sum + Number(line.suppressed), 0));
});

Deno.test("after a quiet interval a kind is forgotten and its next failure logged at once", () => {
  const { clock, lines, throttle } = setup();
  throttle.warn(PUBLISH_FAILED);
  throttle.warn(PUBLISH_FAILED);
  clock.advance(10_000);
  assert.equal(lines.length, 2, "the first and a summary of one");
  clock.advance(10_000);
  assert.equal(lines.length, 2, "no summary of nothing");
  assert.equal(clock.pending, 0, "nothing remembered, no timer left");
  throttle.warn(PUBLISH_FAILED, { error: "again" });
  assert.equal(lines.length, 3);
  assert.equal(lines[2].event, PUBLISH_FAILED);
  assert.equal(lines[2].error, "again");
});

Deno.test("a lone failure gets no summary", () => {
  const { clock, lines, throttle } = setup();
  throttle.warn(PUBLISH_FAILED);
  clock.advance(60_000);
  assert.equal(lines.length, 1);
  assert.equal(clock.pending, 0);
});

Deno.test("kinds are counted apart: by event (or the kind given) and by level", () => {
  const { clock, lines, throttle } = setup();
  for (let i = 0; i < 3; i++) {
    throttle.warn(PUBLISH_FAILED);
    throttle.warn("presence lookup failed");
    throttle.error("request failed", { msgid: 1 }, "request failed 1");
    throttle.error("request failed", { msgid: 6 }, "request failed 6");
    throttle.error(PUBLISH_FAILED);
  }
  assert.equal(lines.length, 5, "the first of each kind");
  assert.deepEqual(lines.map((line) => line.level), ["warn", "warn", "error", "error", "error"]);
  clock.advance(10_000);
  assert.equal(lines.length, 10);
  assert.ok(lines.slice(5).every((line) => line.suppressed === 2));
  assert.deepEqual(lines.slice(5).map((line) => line.msgid), [
    undefined,
    undefined,
    1,
    6,
    undefined,
  ]);
});

Deno.test("at most maxKinds kinds are remembered; warnings of further kinds share one summary", () => {
  const { clock, lines, throttle } = setup({ maxKinds: 2 });
  for (let i = 0; i < 5; i++) throttle.warn(`failure ${i}`);
  throttle.warn("failure 0");
  assert.deepEqual(lines.map((line) => line.event), ["failure 0", "failure 1"]);
  assert.equal(clock.pending, 3, "two kinds and the others");
  clock.advance(10_000);
  assert.deepEqual(lines.slice(2).map((line) => line.event), [
    "failure 0 (1 more like it in the last 10 s)",
    "warnings of other kinds (3 more like it in the last 10 s)",
  ]);
  clock.advance(10_000);
  assert.equal(clock.pending, 0, "all forgotten after a quiet interval");
  throttle.warn("failure 4");
  assert.equal(lines.at(-1)!.event, "failure 4", "room again for a new kind");
});
