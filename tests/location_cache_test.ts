// LocationCache (lib/location_cache.ts): where other nodes' users were last found.

import assert from "node:assert/strict";
import { LocationCache } from "../lib/location_cache.ts";

Deno.test("location cache: an entry lasts its TTL, and forget drops it", () => {
  let now = 0;
  const cache = new LocationCache(1000, 10, () => now);
  cache.learn(7, "node-b");
  now = 999;
  assert.equal(cache.get(7), "node-b");
  now = 1000;
  assert.equal(cache.get(7), undefined, "lapsed");
  assert.equal(cache.size, 0, "a lapsed entry is dropped when read");
  cache.learn(7, "node-c");
  cache.forget(7);
  assert.equal(cache.get(7), undefined);
});

Deno.test("location cache: past the cap the entry learnt longest ago goes first", () => {
  let now = 0;
  const cache = new LocationCache(1000, 2, () => now);
  cache.learn(1, "a");
  cache.learn(2, "b");
  now = 10;
  cache.learn(1, "a"); // learnt again: now the newest
  cache.learn(3, "c");
  assert.equal(cache.size, 2);
  assert.equal(cache.get(2), undefined);
  assert.equal(cache.get(1), "a");
  assert.equal(cache.get(3), "c");
});
