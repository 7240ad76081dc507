// The bus's text codec on its own: what every bus (in-process and Redis) sends between nodes.

import assert from "node:assert/strict";
import { decodeBusMessages, encodeBusMessages } from "../lib/cluster/bus_codec.ts";
import type { BusMessage } from "../lib/cluster/types.ts";

const envelope: BusMessage = {
  to: [1, 2],
  push: {
    msgid: 5,
    msg: '你好, мир 🐉 "quoted"\n\u2028',
    nested: { list: [1, null, { x: true }] },
  },
  sentAt: 1_700_000_000_123,
};
const asking: BusMessage = { to: [4], push: { msg: "direct?" }, reply: { node: "B", ticket: 7 } };
const reports: BusMessage = {
  reports: [{ ticket: 7, taken: [4] }, { ticket: 8, taken: [], declined: [5, 6] }],
};

Deno.test("bus codec: one message travels as its own object and comes back equal", () => {
  for (const message of [envelope, asking, reports]) {
    const text = encodeBusMessages([message]);
    assert.deepEqual(JSON.parse(text), message);
    assert.deepEqual(decodeBusMessages(text), [message]);
  }
});

Deno.test("bus codec: several messages are one batch, decoded in order", () => {
  const text = encodeBusMessages([envelope, asking, reports]);
  assert.deepEqual(Object.keys(JSON.parse(text)), ["batch"]);
  assert.deepEqual(decodeBusMessages(text), [envelope, asking, reports]);
});

Deno.test("bus codec: an empty batch is refused at encoding", () => {
  assert.throws(() => encodeBusMessages([]), RangeError);
});

Deno.test("bus codec: fields that are not part of a bus message are not carried", () => {
  const [decoded] = decodeBusMessages(
    '{"to":[3],"push":{"a":1},"sentAt":"soon","extra":true,"reply":{"node":"A","ticket":1,"x":2}}',
  );
  assert.deepEqual(decoded, { to: [3], push: { a: 1 }, reply: { node: "A", ticket: 1 } });
  assert.deepEqual(decodeBusMessages('{"reports":[{"ticket":2,"taken":[],"extra":1}]}'), [
    { reports: [{ ticket: 2, taken: [] }] },
  ]);
});

Deno.test("bus codec: what is not a bus message decodes as undefined in its place", () => {
  const malformed = [
    "not json",
    "[]",
    "null",
    '"text"',
    '{"to":"x","push":{}}',
    '{"to":[1.5],"push":{}}',
    '{"to":[1],"push":[]}',
    '{"to":[1],"push":{},"reply":{"node":3,"ticket":1}}',
    '{"to":[1],"push":{},"reply":{"node":"A","ticket":0.5}}',
    '{"reports":[{"ticket":1,"taken":["2"]}]}',
    '{"reports":[{"taken":[2]}]}',
    '{"reports":[{"ticket":1,"taken":[2],"declined":[0.5]}]}',
    '{"reports":[{"ticket":1,"taken":[2],"declined":3}]}',
    '{"batch":"x"}',
  ];
  for (const text of malformed) assert.deepEqual(decodeBusMessages(text), [undefined], text);
  assert.deepEqual(
    decodeBusMessages('{"batch":[7,{"to":[2],"push":{"in":"batch"}},{"reports":"no"}]}'),
    [undefined, { to: [2], push: { in: "batch" } }, undefined],
  );
});
