// lib/store/member_cache.ts: member lists are kept while the store's data version stands, a
// change elsewhere drops them all, and at most `capacity` groups are kept, the least recently
// used forgotten first.

import assert from "node:assert/strict";
import { MemberCache } from "../lib/store/member_cache.ts";

/** A cache over a fake store: counts the loads; `version` stands for PRAGMA data_version. */
function fixture(capacity?: number) {
  const state = { version: 1, loads: [] as number[] };
  const cache = new MemberCache(() => state.version, capacity);
  const get = (groupId: number) =>
    cache.get(groupId, () => {
      state.loads.push(groupId);
      return [groupId * 10, groupId * 10 + 1];
    });
  return { cache, state, get };
}

Deno.test("member cache: a group's members are loaded once while nothing changes", () => {
  const { state, get } = fixture();
  assert.deepEqual(get(1), [10, 11]);
  assert.deepEqual(get(1), [10, 11]);
  assert.deepEqual(state.loads, [1]);
});

Deno.test("member cache: forget() drops one group", () => {
  const { cache, state, get } = fixture();
  get(1);
  get(2);
  cache.forget(1);
  get(1);
  get(2);
  assert.deepEqual(state.loads, [1, 2, 1]);
});

Deno.test("member cache: an empty group is not kept", () => {
  const state = { loads: 0 };
  const cache = new MemberCache(() => 1);
  const load = () => {
    state.loads++;
    return [];
  };
  cache.get(7, load);
  cache.get(7, load);
  assert.equal(state.loads, 2);
  assert.equal(cache.size, 0);
});

Deno.test("member cache: keeps at most its capacity, forgetting the least recently used", () => {
  const { cache, state, get } = fixture(3);
  get(1);
  get(2);
  get(3);
  get(1); // 2 is now the least recently used
  get(4);
  assert.equal(cache.size, 3);
  get(1);
  get(3);
  get(4);
  assert.deepEqual(state.loads, [1, 2, 3, 4]);
  get(2);
  assert.deepEqual(state.loads, [1, 2, 3, 4, 2]);
  assert.equal(cache.size, 3);
});

Deno.test("member cache: a commit by another connection drops every list from the next turn on", async () => {
  const { state, get } = fixture();
  get(1);
  state.version = 2;
  get(1); // the same turn: the version is looked at once per turn
  await new Promise((resolve) => setTimeout(resolve, 0));
  get(1);
  assert.deepEqual(state.loads, [1, 1]);
});
