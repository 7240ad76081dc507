// Reading typed fields out of a request frame; anything missing, mistyped or out of limits is a
// ChatError with errno 3 (bad request) naming the field.

import { ChatError, Errno } from "./errors.ts";
import { countCodePoints, type Frame } from "./protocol.ts";

const MAX_ID = 2 ** 31 - 1;

function badField(name: string, expected: string): ChatError {
  return new ChatError(Errno.BAD_REQUEST, `bad request: '${name}' must be ${expected}`);
}

/** True for a positive integer that fits an id column. */
export function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= MAX_ID;
}

/** True for a message id (a positive safe integer). */
export function isMid(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}

/** A message id field. */
export function midField(frame: Frame, name: string): number {
  const value = frame[name];
  if (!isMid(value)) throw badField(name, "a message id");
  return value;
}

/** A positive integer id field (as stored in INT columns). */
export function idField(frame: Frame, name: string): number {
  const value = frame[name];
  if (!isId(value)) throw badField(name, "a positive integer id");
  return value;
}

/** A string field of `min`–`max` characters (code points). */
export function textField(frame: Frame, name: string, min: number, max: number): string {
  const value = frame[name];
  if (typeof value !== "string") throw badField(name, "a string");
  const length = value.length <= max ? countCodePoints(value) : countCodePoints(value, max + 1);
  if (length < min) throw badField(name, `at least ${min} character${min === 1 ? "" : "s"}`);
  if (length > max) {
    throw new ChatError(
      Errno.BAD_REQUEST,
      `bad request: '${name}' is longer than ${max} characters`,
    );
  }
  return value;
}

/** Like textField, but absent or null gives `fallback`. */
export function optionalTextField(
  frame: Frame,
  name: string,
  max: number,
  fallback: string,
): string {
  if (frame[name] === undefined || frame[name] === null) return fallback;
  return textField(frame, name, 0, max);
}
