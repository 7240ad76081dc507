// lib/known_users.ts: an id found once is not looked up again; a missing one is never
// remembered; at most `capacity` ids are kept, the least recently looked up forgotten first.

import assert from "node:assert/strict";
import { KnownUsers } from "../lib/known_users.ts";

function fixture(existing: number[], capacity?: number) {
  const lookups: number[] = [];
  const known = new KnownUsers(capacity);
  const exists = (userId: number) =>
    known.exists(userId, (id) => {
      lookups.push(id);
      return Promise.resolve(existing.includes(id));
    });
  return { known, lookups, exists };
}

Deno.test("known users: an existing id is looked up once", async () => {
  const { lookups, exists } = fixture([1]);
  assert.equal(await exists(1), true);
  assert.equal(await exists(1), true);
  assert.deepEqual(lookups, [1]);
});

Deno.test("known users: a missing id is looked up every time (it may be registered next)", async () => {
  const { known, lookups, exists } = fixture([]);
  assert.equal(await exists(9), false);
  assert.equal(await exists(9), false);
  assert.deepEqual(lookups, [9, 9]);
  assert.equal(known.size, 0);
});

Deno.test("known users: keeps at most its capacity, forgetting the least recently looked up", async () => {
  const { known, lookups, exists } = fixture([1, 2, 3, 4], 3);
  await exists(1);
  await exists(2);
  await exists(3);
  await exists(1); // 2 is now the least recently looked up
  await exists(4);
  assert.equal(known.size, 3);
  await exists(1);
  await exists(3);
  await exists(4);
  assert.deepEqual(lookups, [1, 2, 3, 4]);
  await exists(2);
  assert.deepEqual(lookups, [1, 2, 3, 4, 2]);
  assert.equal(known.size, 3);
});
