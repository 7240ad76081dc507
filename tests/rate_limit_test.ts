import assert from "node:assert/strict";
import { LoginThrottle, TokenBucket } from "../lib/rate_limit.ts";

Deno.test("token bucket: a burst, then the steady rate", () => {
  let now = 0;
  const bucket = new TokenBucket(10, 3, () => now);
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [
    true,
    true,
    true,
    false,
  ]);
  now += 100; // 10 per second: one token per 100 ms
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  now += 10_000;
  assert.equal([1, 2, 3, 4].filter(() => bucket.take()).length, 3, "never above the burst");
});

Deno.test("login throttle: failures in the window lock an account, success clears it", () => {
  let now = 0;
  const throttle = new LoginThrottle({ maxFailures: 3, windowMs: 1000, now: () => now });
  for (let i = 0; i < 3; i++) {
    assert.equal(throttle.allows("id:1"), true);
    throttle.recordFailure("id:1");
  }
  assert.equal(throttle.allows("id:1"), false);
  assert.equal(throttle.allows("id:2"), true, "other accounts are unaffected");
  now += 1001;
  assert.equal(throttle.allows("id:1"), true, "failures age out");
  throttle.recordFailure("id:1");
  throttle.recordFailure("id:1");
  throttle.recordSuccess("id:1");
  throttle.recordFailure("id:1");
  assert.equal(throttle.allows("id:1"), true);
});
