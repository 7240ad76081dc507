import assert from "node:assert/strict";
import {
  createLogger,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type Logger,
  type LogLevel,
  silentLogger,
} from "../lib/log.ts";

const TIME = "2024-01-02T03:04:05.678Z";

function capture(level: LogLevel, format: LogFormat): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({
    level,
    format,
    write: (line) => lines.push(line),
    now: () => new Date(TIME),
  });
  return { log, lines };
}

function lineLevel(format: LogFormat, line: string): string {
  return format === "json" ? JSON.parse(line).level : line.split(/ +/)[1].toLowerCase();
}

function emitEveryLevel(log: Logger): void {
  for (const level of LOG_LEVELS) log[level](`${level} event`);
}

Deno.test("log: each level emits itself and the levels above it", () => {
  const expected: Record<LogLevel, LogLevel[]> = {
    debug: ["debug", "info", "warn", "error"],
    info: ["info", "warn", "error"],
    warn: ["warn", "error"],
    error: ["error"],
  };
  for (const format of LOG_FORMATS) {
    for (const level of LOG_LEVELS) {
      const { log, lines } = capture(level, format);
      emitEveryLevel(log);
      assert.deepEqual(
        lines.map((line) => lineLevel(format, line)),
        expected[level],
        `${format} ${level}`,
      );
    }
  }
});

Deno.test("log: json lines parse and carry time, level, event and fields", () => {
  const { log, lines } = capture("debug", "json");
  log.info("user logged in", { user: 7, connection: "c1", ok: true, tags: ["a", "b"] });
  log.debug("no fields");
  assert.equal(lines.length, 2);
  assert.ok(lines.every((line) => line.endsWith("\n") && line.indexOf("\n") === line.length - 1));
  assert.deepEqual(JSON.parse(lines[0]), {
    time: TIME,
    level: "info",
    event: "user logged in",
    user: 7,
    connection: "c1",
    ok: true,
    tags: ["a", "b"],
  });
  assert.deepEqual(JSON.parse(lines[1]), { time: TIME, level: "debug", event: "no fields" });
});

Deno.test("log: the injected clock gives each line its time", () => {
  const lines: string[] = [];
  let tick = 0;
  const log = createLogger({
    level: "info",
    format: "json",
    write: (line) => lines.push(line),
    now: () => new Date(Date.UTC(2024, 0, 1, 0, 0, tick++)),
  });
  log.info("one");
  log.info("two");
  assert.deepEqual(lines.map((line) => JSON.parse(line).time), [
    "2024-01-01T00:00:00.000Z",
    "2024-01-01T00:00:01.000Z",
  ]);
});

Deno.test("log: filtered events do not read the clock", () => {
  let reads = 0;
  const log = createLogger({
    level: "error",
    format: "json",
    write: () => {},
    now: () => {
      reads++;
      return new Date(TIME);
    },
  });
  log.debug("skipped");
  log.warn("skipped");
  assert.equal(reads, 0);
  log.error("kept");
  assert.equal(reads, 1);
});

Deno.test("log: Error values are rendered as their message", () => {
  for (const format of LOG_FORMATS) {
    const { log, lines } = capture("info", format);
    log.error("request failed", { error: new TypeError("boom: bad thing") });
    if (format === "json") {
      assert.equal(JSON.parse(lines[0]).error, "boom: bad thing");
    } else {
      assert.ok(lines[0].includes('error="boom: bad thing"'), lines[0]);
      assert.ok(!lines[0].includes("TypeError"), lines[0]);
    }
  }
  const { log, lines } = capture("info", "pretty");
  log.warn("failed", { error: new Error("timeout") });
  assert.ok(lines[0].endsWith(" error=timeout\n"), lines[0]);
});

Deno.test("log: with adds fields to every line and keeps the parent unchanged", () => {
  const { log, lines } = capture("info", "json");
  const child = log.with({ node: "n1", connection: 3 });
  const grandchild = child.with({ user: 9 });
  child.info("child event", { extra: "x" });
  grandchild.warn("grandchild event");
  log.info("parent event");
  assert.deepEqual(lines.map((line) => JSON.parse(line)), [
    { time: TIME, level: "info", event: "child event", node: "n1", connection: 3, extra: "x" },
    { time: TIME, level: "warn", event: "grandchild event", node: "n1", connection: 3, user: 9 },
    { time: TIME, level: "info", event: "parent event" },
  ]);
});

Deno.test("log: fields given to an event override fields from with", () => {
  const { log, lines } = capture("info", "json");
  log.with({ user: 1, node: "n1" }).info("event", { user: 2 });
  assert.deepEqual(JSON.parse(lines[0]), {
    time: TIME,
    level: "info",
    event: "event",
    user: 2,
    node: "n1",
  });
});

Deno.test("log: a child logger keeps its parent's level", () => {
  const { log, lines } = capture("warn", "json");
  emitEveryLevel(log.with({ a: 1 }));
  assert.deepEqual(lines.map((line) => JSON.parse(line).level), ["warn", "error"]);
});

Deno.test("log: pretty lines are time, padded level, event, then key=value fields", () => {
  const { log, lines } = capture("debug", "pretty");
  log.info("user logged in", { user: 7, connection: "c1" });
  log.error("stopped");
  log.with({ node: "n1" }).debug("opened", { peer: "127.0.0.1:5000" });
  assert.deepEqual(lines, [
    `${TIME} INFO  user logged in user=7 connection=c1\n`,
    `${TIME} ERROR stopped\n`,
    `${TIME} DEBUG opened node=n1 peer=127.0.0.1:5000\n`,
  ]);
});

Deno.test("log: pretty quotes strings with spaces and renders other values as JSON", () => {
  const { log, lines } = capture("info", "pretty");
  log.info("values", {
    text: "has space",
    plain: "no-space",
    empty: "",
    list: [1, "a"],
    object: { k: "v" },
    none: null,
    yes: true,
  });
  assert.equal(
    lines[0],
    `${TIME} INFO  values text="has space" plain=no-space empty= list=[1,"a"] ` +
      `object={"k":"v"} none=null yes=true\n`,
  );
});

Deno.test("log: pretty format writes exactly one line per event", () => {
  const { log, lines } = capture("info", "pretty");
  log.info("multi", { text: "line one\nline two\r\nline three", error: new Error("a\nb") });
  log.warn("tabs", { text: "a\tb" });
  assert.equal(lines.length, 2);
  for (const line of lines) {
    assert.equal(line.split("\n").length, 2, JSON.stringify(line));
    assert.ok(line.endsWith("\n"));
  }
  assert.ok(lines[0].includes('text="line one\\nline two\\r\\nline three"'), lines[0]);
  assert.ok(lines[0].includes('error="a\\nb"'), lines[0]);
});

Deno.test("log: json format writes exactly one line per event", () => {
  const { log, lines } = capture("info", "json");
  log.info("multi", { text: "a\nb", error: new Error("c\nd") });
  assert.equal(lines.length, 1);
  assert.equal(lines[0].split("\n").length, 2);
  assert.equal(JSON.parse(lines[0]).text, "a\nb");
  assert.equal(JSON.parse(lines[0]).error, "c\nd");
});

Deno.test("log: silentLogger discards everything, including through with", () => {
  for (const level of LOG_LEVELS) silentLogger[level]("ignored", { a: 1 });
  assert.equal(silentLogger.with({ a: 1 }), silentLogger);
});
