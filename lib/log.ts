// One line per event on stderr, as human-readable text or JSON, filtered by level.
// Callers pass structured fields; never pass passwords or message bodies.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "pretty" | "json";
export type LogFields = Record<string, unknown>;

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
export const LOG_FORMATS: readonly LogFormat[] = ["pretty", "json"];

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  with(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go; defaults to stderr. */
  write?: (line: string) => void;
  /** Defaults to the wall clock. */
  now?: () => Date;
}

const encoder = new TextEncoder();

export function createLogger(options: LoggerOptions, base: LogFields = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level);
  const write = options.write ?? ((line: string) => Deno.stderr.writeSync(encoder.encode(line)));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, event: string, fields: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    const all = { ...base, ...fields };
    write(formatLine(options.format, now().toISOString(), level, event, all) + "\n");
  };
  return {
    debug: (event, fields) => emit("debug", event, fields),
    info: (event, fields) => emit("info", event, fields),
    warn: (event, fields) => emit("warn", event, fields),
    error: (event, fields) => emit("error", event, fields),
    with: (fields) => createLogger(options, { ...base, ...fields }),
  };
}

/** A logger that discards everything (for tests and tools). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  with: () => silentLogger,
};

function formatLine(
  format: LogFormat,
  time: string,
  level: LogLevel,
  event: string,
  fields: LogFields,
): string {
  const plain = Object.fromEntries(
    Object.entries(fields).map(([key, value]) => [key, plainValue(value)]),
  );
  if (format === "json") return safeJson({ ...plain, time, level, event });
  const rest = Object.entries(plain).map(([key, value]) =>
    `${key}=${typeof value === "string" && !/\s/.test(value) ? value : safeJson(value)}`
  );
  return [time, level.toUpperCase().padEnd(5), event, ...rest].join(" ");
}

/** JSON text of a value; never throws (BigInt and cycles become a placeholder). */
function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v) => typeof v === "bigint" ? v.toString() : v) ??
      "undefined";
  } catch {
    return '"[unserialisable]"';
  }
}

function plainValue(value: unknown): unknown {
  if (value instanceof Error) {
    return "detail" in value && typeof value.detail === "string" ? value.detail : value.message;
  }
  return value;
}
