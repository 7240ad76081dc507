// The accept loop's pause after failed accepts: grows while they fail, resets on success.

import assert from "node:assert/strict";
import { AcceptBackoff } from "../lib/accept_backoff.ts";

Deno.test("accept backoff: pauses double from 5 ms up to 1 s while accepts fail", () => {
  const backoff = new AcceptBackoff();
  const pauses = Array.from({ length: 10 }, () => backoff.failed().pauseMs);
  assert.deepEqual(pauses, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
});

Deno.test("accept backoff: only the first failure of a run is flagged, and a success ends it", () => {
  const backoff = new AcceptBackoff();
  assert.equal(backoff.succeeded(), 0);
  assert.deepEqual(backoff.failed(), { pauseMs: 5, first: true });
  assert.deepEqual(backoff.failed(), { pauseMs: 10, first: false });
  assert.deepEqual(backoff.failed(), { pauseMs: 20, first: false });
  assert.equal(backoff.succeeded(), 3);
  assert.equal(backoff.succeeded(), 0);
  assert.deepEqual(backoff.failed(), { pauseMs: 5, first: true });
});
