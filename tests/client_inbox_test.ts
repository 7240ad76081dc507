// The client's dedupe and receipt batching (Inbox) and its reconnect backoff.

import assert from "node:assert/strict";
import { backoffDelay } from "../lib/client/backoff.ts";
import { Inbox } from "../lib/client/inbox.ts";
import { Limits } from "../lib/protocol.ts";
import { ManualTimers } from "./support/manual_timers.ts";

Deno.test("inbox: a mid is new once; every arrival is acknowledged in one batched receipt", () => {
  const receipts: number[][] = [];
  const timers = new ManualTimers();
  const inbox = new Inbox((mids) => receipts.push(mids), timers);
  assert.equal(inbox.receive(5), true);
  assert.equal(inbox.receive(6), true);
  assert.equal(inbox.receive(5), false, "shown already");
  assert.deepEqual(receipts, [], "receipts wait a moment to share one frame");
  assert.equal(timers.waiting, 1, "one timer for the batch");
  timers.fire();
  assert.deepEqual(receipts, [[5, 6]]);
  assert.equal(inbox.receive(6), false, "redelivered after the receipt was lost");
  timers.fire();
  assert.deepEqual(receipts, [[5, 6], [6]], "and acknowledged again");
});

Deno.test("inbox: flush sends at once, in frames of at most Limits.receiptMids", () => {
  const receipts: number[][] = [];
  const inbox = new Inbox((mids) => receipts.push(mids));
  for (let mid = 1; mid < Limits.receiptMids; mid++) inbox.receive(mid);
  assert.equal(receipts.length, 0);
  inbox.receive(Limits.receiptMids);
  assert.equal(receipts.length, 1, "a full receipt goes without waiting");
  assert.equal(receipts[0].length, Limits.receiptMids);
  inbox.receive(Limits.receiptMids + 1);
  inbox.flush();
  assert.deepEqual(receipts[1], [Limits.receiptMids + 1]);
});

Deno.test("inbox: receipts for a lost connection are dropped, not sent on the next", () => {
  const receipts: number[][] = [];
  const timers = new ManualTimers();
  const inbox = new Inbox((mids) => receipts.push(mids), timers);
  inbox.receive(1);
  inbox.dropUnsent();
  assert.equal(timers.waiting, 0, "its timer is cleared");
  timers.fire();
  assert.deepEqual(receipts, []);
  assert.equal(inbox.receive(1), false, "still remembered as shown");
  inbox.flush();
  assert.deepEqual(receipts, [[1]]);
});

Deno.test("backoff: grows from about 250 ms to at most 8 s, half of it random", () => {
  assert.equal(backoffDelay(0, () => 0), 125);
  assert.equal(backoffDelay(0, () => 0.999999), 250);
  assert.equal(backoffDelay(3, () => 0), 1000);
  assert.equal(backoffDelay(10, () => 0.999999), 8000);
  assert.equal(backoffDelay(1000, () => 0.5), 6000);
  const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(4)));
  assert.ok(delays.size > 1, "jitter spreads clients out");
});
