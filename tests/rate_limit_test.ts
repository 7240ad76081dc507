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

Deno.test("login throttle: attempts in the window lock an account, success clears it", () => {
  let now = 0;
  const throttle = new LoginThrottle({ maxFailures: 3, windowMs: 1000, now: () => now });
  // Admitted attempts count before their outcome is known: a fourth concurrent one is refused.
  assert.deepEqual([1, 2, 3, 4].map(() => throttle.attempt("id:1")), [true, true, true, false]);
  assert.equal(throttle.attempt("id:2"), true, "other accounts are unaffected");
  now += 1001;
  assert.equal(throttle.attempt("id:1"), true, "attempts age out");
  assert.equal(throttle.attempt("id:1"), true);
  throttle.succeeded("id:1");
  assert.deepEqual([1, 2, 3, 4].map(() => throttle.attempt("id:1")), [true, true, true, false]);
});
