import assert from "node:assert/strict";
import { hashPassword, verifyPassword } from "../lib/password.ts";

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
