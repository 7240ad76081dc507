import assert from "node:assert/strict";
import { ChatError, Errno } from "../lib/errors.ts";
import { idField, optionalTextField, textField } from "../lib/validate.ts";

function assertBadRequest(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ChatError, `expected a ChatError, got ${error}`);
    assert.equal(error.errno, Errno.BAD_REQUEST);
    assert.equal(error.errno, 3);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("validate: idField accepts integers from 1 to 2**31-1", () => {
  assert.equal(idField({ id: 1 }, "id"), 1);
  assert.equal(idField({ id: 42 }, "id"), 42);
  assert.equal(idField({ to: 2 ** 31 - 1 }, "to"), 2 ** 31 - 1);
  assert.equal(idField({ id: 5.0 }, "id"), 5);
});

Deno.test("validate: idField rejects non-positive, fractional, too large and non-number ids", () => {
  const bad: unknown[] = [
    0,
    -0,
    -1,
    1.5,
    2 ** 31,
    2 ** 53,
    NaN,
    Infinity,
    -Infinity,
    "1",
    "",
    true,
    null,
    [1],
    { id: 1 },
    1n,
  ];
  for (const value of bad) {
    assertBadRequest(() => idField({ id: value }, "id"), /'id' must be a positive integer id/);
  }
});

Deno.test("validate: idField rejects a missing field and names it", () => {
  assertBadRequest(() => idField({}, "groupid"), /^bad request: 'groupid' must be/);
});

Deno.test("validate: textField accepts lengths within limits and returns the value", () => {
  assert.equal(textField({ name: "alice" }, "name", 1, 50), "alice");
  assert.equal(textField({ name: "a" }, "name", 1, 1), "a");
  assert.equal(textField({ desc: "" }, "desc", 0, 10), "");
  assert.equal(textField({ name: "x".repeat(50) }, "name", 1, 50), "x".repeat(50));
});

Deno.test("validate: textField counts code points, not UTF-16 units", () => {
  const fifty = "😀".repeat(50);
  assert.equal(fifty.length, 100);
  assert.equal(textField({ name: fifty }, "name", 1, 50), fifty);
  assertBadRequest(
    () => textField({ name: "😀".repeat(51) }, "name", 1, 50),
    /'name' is longer than 50 characters/,
  );
  const mixed = "é中😀a".repeat(10);
  assert.equal(textField({ name: mixed }, "name", 40, 40), mixed);
  assertBadRequest(() => textField({ name: mixed + "😀" }, "name", 1, 40), /longer than 40/);
});

Deno.test("validate: textField counts a lone surrogate as one character", () => {
  const text = "\ud800" + "a".repeat(9);
  assert.equal(textField({ s: text }, "s", 1, 10), text);
  assertBadRequest(() => textField({ s: text + "\udc00" }, "s", 1, 10), /longer than 10/);
});

Deno.test("validate: textField rejects a string over the maximum", () => {
  assertBadRequest(
    () => textField({ msg: "x".repeat(4097) }, "msg", 1, 4096),
    /^bad request: 'msg' is longer than 4096 characters$/,
  );
  assertBadRequest(() => textField({ msg: "x".repeat(100_000) }, "msg", 1, 4096), /longer/);
});

Deno.test("validate: textField rejects a string under the minimum", () => {
  assertBadRequest(
    () => textField({ name: "" }, "name", 1, 50),
    /^bad request: 'name' must be at least 1 character$/,
  );
  assertBadRequest(
    () => textField({ password: "😀😀" }, "password", 3, 128),
    /^bad request: 'password' must be at least 3 characters$/,
  );
});

Deno.test("validate: textField rejects non-strings and missing fields", () => {
  for (const value of [undefined, null, 1, true, ["a"], { a: "b" }]) {
    assertBadRequest(
      () => textField({ name: value }, "name", 0, 50),
      /^bad request: 'name' must be a string$/,
    );
  }
  assertBadRequest(() => textField({}, "name", 0, 50), /'name' must be a string/);
});

Deno.test("validate: optionalTextField gives the fallback for absent or null", () => {
  assert.equal(optionalTextField({}, "groupdesc", 200, "none"), "none");
  assert.equal(optionalTextField({ groupdesc: undefined }, "groupdesc", 200, "none"), "none");
  assert.equal(optionalTextField({ groupdesc: null }, "groupdesc", 200, ""), "");
});

Deno.test("validate: optionalTextField checks a present value", () => {
  assert.equal(optionalTextField({ groupdesc: "" }, "groupdesc", 200, "none"), "");
  assert.equal(
    optionalTextField({ groupdesc: "🎉".repeat(200) }, "groupdesc", 200, "x"),
    "🎉".repeat(200),
  );
  assertBadRequest(
    () => optionalTextField({ groupdesc: "🎉".repeat(201) }, "groupdesc", 200, "x"),
    /'groupdesc' is longer than 200 characters/,
  );
  assertBadRequest(
    () => optionalTextField({ groupdesc: 5 }, "groupdesc", 200, "x"),
    /'groupdesc' must be a string/,
  );
});
