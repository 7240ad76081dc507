// SharedFrame: one encoding per transport, made on first use and shared by every session.

import assert from "node:assert/strict";
import { encodeFrame, lengthPrefixed } from "../lib/codec.ts";
import { type FrameEncoding, SharedFrame } from "../lib/shared_frame.ts";

Deno.test("shared frame: each encoding runs once and every caller gets the same result", () => {
  const frame = new SharedFrame({ msgid: 6, id: 1, name: "ann", toid: 2, msg: "héllo", mid: 7 });
  let texts = 0;
  const text: FrameEncoding<string> = (_frame, json) => {
    texts++;
    return json;
  };
  const bytes = frame.encodedAs(lengthPrefixed);
  assert.equal(frame.encodedAs(lengthPrefixed), bytes, "the same bytes, not a copy");
  assert.deepEqual(bytes, encodeFrame(frame.frame));
  assert.equal(frame.encodedAs(text), frame.json);
  assert.equal(frame.encodedAs(text), frame.json);
  assert.equal(texts, 1);
  assert.deepEqual(JSON.parse(frame.json), frame.frame);
});
