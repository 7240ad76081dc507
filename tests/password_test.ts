import assert from "node:assert/strict";
import { CancelledError } from "../lib/errors.ts";
import { hashPassword, MAX_CONCURRENT_DERIVATIONS, verifyPassword } from "../lib/password.ts";

const cheap = { N: 1024, r: 8, p: 1 };

Deno.test("password: a hash verifies its password and no other", async () => {
  const stored = await hashPassword("correct horse", cheap);
  assert.match(stored, /^scrypt\$1024\$8\$1\$/);
  assert.ok(!stored.includes("correct horse"));
  assert.equal(await verifyPassword("correct horse", stored), true);
  assert.equal(await verifyPassword("correct hors", stored), false);
  assert.equal(await verifyPassword("", stored), false);
});

Deno.test("password: the same password gets a different salt each time", async () => {
  const one = await hashPassword("pw", cheap);
  const two = await hashPassword("pw", cheap);
  assert.notEqual(one, two);
  assert.equal(await verifyPassword("pw", two), true);
});

Deno.test("password: the default cost is used and verifies", async () => {
  const stored = await hashPassword("密码🔑");
  assert.match(stored, /^scrypt\$16384\$8\$1\$/);
  assert.equal(await verifyPassword("密码🔑", stored), true);
});

Deno.test("password: a malformed stored hash never verifies", async () => {
  assert.equal(await verifyPassword("pw", "plaintext"), false);
  assert.equal(await verifyPassword("pw", "scrypt$x$8$1$AAAA$AAAA"), false);
});

Deno.test("password: work queued for a closed connection is skipped, the queue goes on", async () => {
  // Fill every derivation slot, then queue two more: one whose connection closes while it waits.
  const busy = Array.from(
    { length: MAX_CONCURRENT_DERIVATIONS },
    () => hashPassword("pw", { N: 16384, r: 8, p: 1 }),
  );
  const closing = new AbortController();
  const cancelled = hashPassword("pw", cheap, closing.signal);
  const next = hashPassword("pw", cheap);
  closing.abort();
  await assert.rejects(cancelled, CancelledError);
  assert.match(await next, /^scrypt\$1024\$/, "the waiter after it still runs");
  await Promise.all(busy);
  // Already closed: not even queued.
  await assert.rejects(hashPassword("pw", cheap, AbortSignal.abort()), CancelledError);
  await assert.rejects(verifyPassword("pw", await next, AbortSignal.abort()), CancelledError);
});
