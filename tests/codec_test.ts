import assert from "node:assert/strict";
import {
  type Decoded,
  encodeFrame,
  encodeJsonFrame,
  FrameDecoder,
  headerText,
  utf8Length,
} from "../lib/codec.ts";
import { DEFAULT_MAX_FRAME, type Frame } from "../lib/protocol.ts";
import { concat } from "./support/frames.ts";

const utf8 = new TextEncoder();

function decodeChunks(decoder: FrameDecoder, chunks: Uint8Array[]): Decoded[] {
  return chunks.flatMap((chunk) => [...decoder.push(chunk)]);
}

function decodeAll(bytes: Uint8Array, maxFrame = DEFAULT_MAX_FRAME): Decoded[] {
  return decodeChunks(new FrameDecoder(maxFrame), [bytes]);
}

function header(length: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, length);
  return out;
}

/** A frame whose body is exactly `body` (which need not be valid UTF-8 or JSON). */
function rawFrame(body: Uint8Array | string): Uint8Array {
  const bytes = typeof body === "string" ? utf8.encode(body) : body;
  return concat([header(bytes.length), bytes]);
}

const asFrame = (frame: Frame): Decoded => ({ kind: "frame", frame });
const invalid = (reason: string): Decoded => ({ kind: "invalid", reason });

/** Deterministic PRNG so a failing property case can be reproduced from its seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VARIED_FRAMES: Frame[] = [
  {},
  { msgid: 1, id: 7, password: "pw" },
  { msgid: 6, from: 1, to: 2, msg: "héllo wörld — ünïcödé" },
  { msg: "中文消息，日本語のメッセージ、한국어 메시지" },
  { msg: "emoji 😀👍🏽👨‍👩‍👧‍👦🇯🇵 and more 🎉" },
  { msg: 'quotes " backslash \\ slash / controls \n\r\t\u0000\u001f' },
  { nested: { deeper: { deepest: [1, [2, [3, { four: 4 }]]] } }, list: [] },
  { numbers: [0, -1, 1.5, 1e21, -2.5e-7, 2 ** 53 - 1], yes: true, no: false, none: null },
  { "ключ": "значение", "🔑": "🔒", "": "empty key" },
  { msg: "\u2028\u2029 line separators and \ufeff BOM inside a string" },
];

Deno.test("codec: varied objects round-trip through encodeFrame and the decoder", () => {
  for (const frame of VARIED_FRAMES) {
    assert.deepEqual(decodeAll(encodeFrame(frame)), [asFrame(frame)]);
  }
});

Deno.test("codec: encodeFrame writes a big-endian byte length then UTF-8 JSON", () => {
  assert.deepEqual([...encodeFrame({ a: 1 })], [0, 0, 0, 7, ...utf8.encode('{"a":1}')]);
  const emoji = encodeJsonFrame('{"e":"😀é"}');
  const body = utf8.encode('{"e":"😀é"}');
  assert.equal(body.length, 14);
  assert.deepEqual([...emoji], [0, 0, 0, 14, ...body]);
});

Deno.test("codec: encodeJsonFrame header bytes are big-endian for multi-byte lengths", () => {
  const length = 0x010203;
  const json = `{"s":"${"x".repeat(length - 8)}"}`;
  const frame = encodeJsonFrame(json);
  assert.equal(frame.length, 4 + length);
  assert.deepEqual([...frame.subarray(0, 4)], [0x00, 0x01, 0x02, 0x03]);
});

Deno.test("codec: encodeJsonFrame sends the text unchanged", () => {
  const json = '{ "spaced" : [1, 2] ,\n"k":"ü"}';
  const frame = encodeJsonFrame(json);
  assert.equal(new TextDecoder().decode(frame.subarray(4)), json);
  assert.deepEqual(decodeAll(frame), [asFrame({ spaced: [1, 2], k: "ü" })]);
});

function jsonOfExactBytes(bytes: number): string {
  const prefix = '{"body":"';
  const suffix = '"}';
  const multiByte = "é€😀中".repeat(1000);
  const fixed = utf8.encode(prefix + multiByte + suffix).length;
  const json = prefix + multiByte + "a".repeat(bytes - fixed) + suffix;
  assert.equal(utf8.encode(json).length, bytes);
  return json;
}

Deno.test("codec: a body of exactly the 1 MiB limit round-trips", () => {
  const json = jsonOfExactBytes(DEFAULT_MAX_FRAME);
  const frame = encodeJsonFrame(json);
  assert.equal(frame.length, 4 + DEFAULT_MAX_FRAME);
  assert.deepEqual(decodeAll(frame), [asFrame(JSON.parse(json))]);
});

Deno.test("codec: a body one byte over the limit is oversize", () => {
  const frame = encodeJsonFrame(jsonOfExactBytes(DEFAULT_MAX_FRAME + 1));
  assert.deepEqual(decodeAll(frame), [{ kind: "oversize", length: DEFAULT_MAX_FRAME + 1 }]);
});

const STREAM_FRAMES: Frame[] = [
  { msgid: 1, id: 1, password: "a" },
  { msg: "é" },
  { msg: "多字节 UTF-8 😀👍🏽 " + "ü".repeat(40) },
  { nested: { list: [1, 2, 3], empty: {} }, t: true },
  { msg: "x".repeat(300) + "€" },
];
const STREAM = concat(STREAM_FRAMES.map((frame) => encodeFrame(frame)));
const STREAM_EXPECTED = STREAM_FRAMES.map(asFrame);

Deno.test("codec: the test stream has frames of different sizes and multi-byte text", () => {
  const sizes = new Set(STREAM_FRAMES.map((frame) => encodeFrame(frame).length));
  assert.equal(sizes.size, STREAM_FRAMES.length);
  assert.ok(STREAM.length > 256);
});

Deno.test("codec: a stream split into two chunks at every byte position decodes the same", () => {
  for (let at = 0; at <= STREAM.length; at++) {
    const chunks = [STREAM.subarray(0, at), STREAM.subarray(at)];
    assert.deepEqual(decodeChunks(new FrameDecoder(1024), chunks), STREAM_EXPECTED, `split ${at}`);
  }
});

Deno.test("codec: a stream fed one byte at a time decodes the same", () => {
  const decoder = new FrameDecoder(1024);
  const results: Decoded[] = [];
  for (let i = 0; i < STREAM.length; i++) {
    results.push(...decoder.push(STREAM.subarray(i, i + 1)));
  }
  assert.deepEqual(results, STREAM_EXPECTED);
  assert.equal(decoder.pendingBytes, 0);
});

Deno.test("codec: all frames coalesced in one chunk decode in order", () => {
  const decoder = new FrameDecoder(1024);
  assert.deepEqual([...decoder.push(STREAM)], STREAM_EXPECTED);
  assert.equal(decoder.pendingBytes, 0);
});

Deno.test("codec: empty chunks yield nothing and change nothing", () => {
  const decoder = new FrameDecoder(1024);
  assert.deepEqual([...decoder.push(new Uint8Array(0))], []);
  assert.deepEqual([...decoder.push(STREAM.subarray(0, 3))], []);
  assert.deepEqual([...decoder.push(new Uint8Array(0))], []);
  assert.equal(decoder.pendingBytes, 3);
  assert.deepEqual([...decoder.push(STREAM.subarray(3))], STREAM_EXPECTED);
});

const MIXED_STREAM = concat([
  encodeFrame({ first: "ok" }),
  rawFrame(""),
  rawFrame(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])),
  rawFrame("[1,2]"),
  encodeFrame({ after: "errors", emoji: "🎉" }),
  rawFrame("{not json"),
  rawFrame('"text"'),
  encodeFrame({ last: true }),
]);
const MIXED_EXPECTED: Decoded[] = [
  asFrame({ first: "ok" }),
  invalid("empty frame"),
  invalid("frame is not valid UTF-8"),
  invalid("frame must be a JSON object"),
  asFrame({ after: "errors", emoji: "🎉" }),
  invalid("frame is not valid JSON"),
  invalid("frame must be a JSON object"),
  asFrame({ last: true }),
];

Deno.test("codec: a stream with bad frames split at every byte position decodes the same", () => {
  for (let at = 0; at <= MIXED_STREAM.length; at++) {
    const chunks = [MIXED_STREAM.subarray(0, at), MIXED_STREAM.subarray(at)];
    assert.deepEqual(decodeChunks(new FrameDecoder(1024), chunks), MIXED_EXPECTED, `split ${at}`);
  }
});

Deno.test("codec: an oversize header is reported from the 4 header bytes alone", () => {
  const decoder = new FrameDecoder(100);
  assert.deepEqual([...decoder.push(header(101))], [{ kind: "oversize", length: 101 }]);
  assert.equal(decoder.pendingBytes, 0);
});

Deno.test("codec: an oversize header split across chunks is reported once it is complete", () => {
  const decoder = new FrameDecoder(100);
  assert.deepEqual([...decoder.push(header(5000).subarray(0, 3))], []);
  assert.equal(decoder.pendingBytes, 3);
  assert.deepEqual([...decoder.push(header(5000).subarray(3))], [{
    kind: "oversize",
    length: 5000,
  }]);
});

Deno.test("codec: after an oversize header the decoder yields nothing more", () => {
  const decoder = new FrameDecoder(100);
  const stream = concat([encodeFrame({ before: 1 }), header(101), encodeFrame({ after: 1 })]);
  assert.deepEqual([...decoder.push(stream)], [
    asFrame({ before: 1 }),
    { kind: "oversize", length: 101 },
  ]);
  assert.deepEqual([...decoder.push(new Uint8Array(101))], []);
  assert.deepEqual([...decoder.push(encodeFrame({ later: 1 }))], []);
  assert.equal(decoder.pendingBytes, 0);
});

Deno.test("codec: header 0xFFFFFFFF is oversize with length 4294967295", () => {
  const decoder = new FrameDecoder(DEFAULT_MAX_FRAME);
  assert.deepEqual([...decoder.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]))], [{
    kind: "oversize",
    length: 4294967295,
  }]);
});

Deno.test("codec: a high first header byte is read as unsigned", () => {
  const decoder = new FrameDecoder(DEFAULT_MAX_FRAME);
  assert.deepEqual([...decoder.push(new Uint8Array([0x80, 0, 0, 0]))], [{
    kind: "oversize",
    length: 2 ** 31,
  }]);
});

Deno.test("codec: a length of exactly maxFrame is accepted", () => {
  const body = '{"k":"' + "v".repeat(12) + '"}';
  const decoder = new FrameDecoder(utf8.encode(body).length);
  assert.deepEqual([...decoder.push(rawFrame(body))], [asFrame({ k: "v".repeat(12) })]);
  const tighter = new FrameDecoder(utf8.encode(body).length - 1);
  assert.deepEqual([...tighter.push(rawFrame(body))], [{
    kind: "oversize",
    length: body.length,
  }]);
});

Deno.test("codec: a zero-length frame is invalid and the next frame still decodes", () => {
  const decoder = new FrameDecoder(1024);
  assert.deepEqual([...decoder.push(header(0))], [invalid("empty frame")]);
  assert.equal(decoder.pendingBytes, 0);
  assert.deepEqual([...decoder.push(encodeFrame({ next: 1 }))], [asFrame({ next: 1 })]);
  assert.deepEqual([...decoder.push(concat([header(0), header(0), encodeFrame({ n: 2 })]))], [
    invalid("empty frame"),
    invalid("empty frame"),
    asFrame({ n: 2 }),
  ]);
});

const INVALID_UTF8: Record<string, number[]> = {
  "0xff 0xfe": [0xff, 0xfe],
  "lone continuation byte": [0x80],
  "overlong '/' (C0 AF)": [0xc0, 0xaf],
  "overlong NUL (C0 80)": [0xc0, 0x80],
  "overlong 3-byte (E0 80 AF)": [0xe0, 0x80, 0xaf],
  "overlong 4-byte (F0 80 80 AF)": [0xf0, 0x80, 0x80, 0xaf],
  "lone high surrogate (ED A0 80)": [0xed, 0xa0, 0x80],
  "lone low surrogate (ED B0 80)": [0xed, 0xb0, 0x80],
  "above U+10FFFF (F4 90 80 80)": [0xf4, 0x90, 0x80, 0x80],
  "truncated 3-byte sequence (E2 82)": [0xe2, 0x82],
};

Deno.test("codec: invalid UTF-8 is an invalid frame and the stream continues", () => {
  for (const [name, bad] of Object.entries(INVALID_UTF8)) {
    const body = new Uint8Array([...utf8.encode('{"s":"'), ...bad, ...utf8.encode('"}')]);
    const stream = concat([rawFrame(body), encodeFrame({ ok: "✓" })]);
    assert.deepEqual(
      decodeAll(stream),
      [invalid("frame is not valid UTF-8"), asFrame({ ok: "✓" })],
      name,
    );
  }
});

Deno.test("codec: a truncated sequence at the end of a body does not leak into the next", () => {
  const body = new Uint8Array([...utf8.encode('{"a":1}'), 0xe2]);
  const stream = concat([rawFrame(body), encodeFrame({ b: "€" })]);
  assert.deepEqual(decodeAll(stream), [invalid("frame is not valid UTF-8"), asFrame({ b: "€" })]);
});

Deno.test("codec: invalid JSON is an invalid frame and the stream continues", () => {
  for (const body of ["{", "{'a':1}", '{"a":1,}', "{a:1}", '{"a":1}}', "undefined", " "]) {
    const stream = concat([rawFrame(body), encodeFrame({ ok: 1 })]);
    assert.deepEqual(
      decodeAll(stream),
      [invalid("frame is not valid JSON"), asFrame({ ok: 1 })],
      body,
    );
  }
});

Deno.test("codec: a JSON top level other than an object is invalid", () => {
  for (const body of ["[]", '[{"a":1}]', '"string"', "42", "-1.5", "null", "true", "false"]) {
    const stream = concat([rawFrame(body), encodeFrame({ ok: 1 })]);
    assert.deepEqual(
      decodeAll(stream),
      [invalid("frame must be a JSON object"), asFrame({ ok: 1 })],
      body,
    );
  }
});

Deno.test("codec: whitespace around a JSON object is accepted", () => {
  assert.deepEqual(decodeAll(rawFrame(' \r\n\t{"a":1}\n ')), [asFrame({ a: 1 })]);
});

Deno.test("codec: a UTF-8 BOM before the object is rejected as invalid JSON", () => {
  const body = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8.encode('{"a":1}')]);
  const stream = concat([rawFrame(body), encodeFrame({ ok: 1 })]);
  assert.deepEqual(decodeAll(stream), [invalid("frame is not valid JSON"), asFrame({ ok: 1 })]);
});

Deno.test("codec: pendingBytes counts bytes not yet part of a complete frame", () => {
  const decoder = new FrameDecoder(1024);
  const frame = encodeFrame({ msg: "pending" });
  assert.equal(decoder.pendingBytes, 0);
  assert.deepEqual([...decoder.push(frame.subarray(0, 2))], []);
  assert.equal(decoder.pendingBytes, 2);
  assert.deepEqual([...decoder.push(frame.subarray(2, 9))], []);
  assert.equal(decoder.pendingBytes, 9);
  const next = encodeFrame({ n: 2 });
  assert.deepEqual([...decoder.push(concat([frame.subarray(9), next.subarray(0, 5)]))], [
    asFrame({ msg: "pending" }),
  ]);
  assert.equal(decoder.pendingBytes, 5);
  assert.deepEqual([...decoder.push(next.subarray(5))], [asFrame({ n: 2 })]);
  assert.equal(decoder.pendingBytes, 0);
});

Deno.test("codec: small frames decode correctly after a large frame", () => {
  const big = { blob: "🧱".repeat(100_000) };
  const smalls = Array.from({ length: 20 }, (_, i) => ({ i, text: "é".repeat(i) }));
  const decoder = new FrameDecoder(DEFAULT_MAX_FRAME);
  assert.deepEqual([...decoder.push(encodeFrame(big))], [asFrame(big)]);
  for (const small of smalls) {
    assert.deepEqual([...decoder.push(encodeFrame(small))], [asFrame(small)]);
  }
  const bigFrame = encodeFrame(big);
  const tail = concat(smalls.map((small) => encodeFrame(small)));
  const results = decodeChunks(decoder, [
    bigFrame.subarray(0, 1000),
    concat([bigFrame.subarray(1000), tail.subarray(0, 7)]),
    tail.subarray(7),
  ]);
  assert.deepEqual(results, [asFrame(big), ...smalls.map(asFrame)]);
  assert.equal(decoder.pendingBytes, 0);
});

Deno.test("codec: decoded frames do not change when the decoder's buffer is reused", () => {
  const decoder = new FrameDecoder(1024);
  const first = [...decoder.push(encodeFrame({ a: "first" }))];
  decodeChunks(decoder, [encodeFrame({ a: "other" })]);
  assert.deepEqual(first, [asFrame({ a: "first" })]);
});

Deno.test("codec: the caller's chunk is copied, so reusing it is safe", () => {
  const frame = encodeFrame({ reused: "chunk" });
  const chunk = frame.slice(0, 6);
  const decoder = new FrameDecoder(1024);
  assert.deepEqual([...decoder.push(chunk)], []);
  chunk.fill(0);
  assert.deepEqual([...decoder.push(frame.subarray(6))], [asFrame({ reused: "chunk" })]);
});

const CODE_POINT_POOLS = [
  "abcdefghijklmnopqrstuvwxyz0123456789 ",
  '"\\/\n\t\u0000\u001f',
  "éüßñøÆ€£",
  "中文日本語한국어",
  "😀👍🎉🧱🇯🇵",
];

function randomText(random: () => number, maxLength: number): string {
  const length = Math.floor(random() * maxLength);
  let text = "";
  for (let i = 0; i < length; i++) {
    const pool = [...CODE_POINT_POOLS[Math.floor(random() * CODE_POINT_POOLS.length)]];
    text += pool[Math.floor(random() * pool.length)];
  }
  return text;
}

function randomItem(random: () => number): { bytes: Uint8Array; expected: Decoded } {
  const roll = random();
  if (roll < 0.05) return { bytes: header(0), expected: invalid("empty frame") };
  if (roll < 0.1) {
    return {
      bytes: rawFrame(new Uint8Array([0x7b, 0xed, 0xa0, 0x80, 0x7d])),
      expected: invalid("frame is not valid UTF-8"),
    };
  }
  if (roll < 0.15) {
    return {
      bytes: rawFrame(`[${Math.floor(random() * 100)}]`),
      expected: invalid("frame must be a JSON object"),
    };
  }
  const maxLength = random() < 0.1 ? 2000 : 40;
  const frame: Frame = { msgid: Math.floor(random() * 13), msg: randomText(random, maxLength) };
  if (random() < 0.3) frame.nested = { list: [randomText(random, 5), random() < 0.5] };
  return { bytes: encodeFrame(frame), expected: asFrame(frame) };
}

function randomChunks(random: () => number, bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const maxChunk = [1, 3, 16, 100, 5000][Math.floor(random() * 5)];
  let offset = 0;
  while (offset < bytes.length) {
    const size = Math.floor(random() * (maxChunk + 1));
    chunks.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

Deno.test("codec: 200 random frame sequences decode identically under random chunking", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const random = mulberry32(seed);
    const items = Array.from({ length: 1 + Math.floor(random() * 30) }, () => randomItem(random));
    const stream = concat(items.map((item) => item.bytes));
    const decoder = new FrameDecoder(DEFAULT_MAX_FRAME);
    const results = decodeChunks(decoder, randomChunks(random, stream));
    assert.deepEqual(results, items.map((item) => item.expected), `seed ${seed}`);
    assert.equal(decoder.pendingBytes, 0, `seed ${seed}`);
  }
});

Deno.test("codec: the header of an oversize text (an HTTP request, say) reads back as that text", () => {
  const [decoded] = decodeAll(utf8.encode("GET / HTTP/1.1\r\n\r\n"));
  assert.equal(decoded.kind, "oversize");
  assert.equal(headerText((decoded as { length: number }).length), "GET ");
  assert.equal(headerText(0x7fffffff), null, "binary bytes are not text");
  assert.equal(headerText(0x20202020), "    ");
});

Deno.test("codec: a frame's buffer is exactly its size, whatever its characters", () => {
  const texts = [
    "",
    "plain ascii",
    "é ü ß",
    "中文 😀 🐉",
    "\ud800 lone",
    "end \udfff",
    "😀".repeat(500),
  ];
  for (const text of texts) {
    const frame = encodeFrame({ msg: text });
    const exact = new TextEncoder().encode(JSON.stringify({ msg: text }));
    assert.equal(frame.length, 4 + exact.length, JSON.stringify(text));
    // Not a view of a larger buffer: a queued frame pins only its own bytes.
    assert.equal(frame.buffer.byteLength, frame.length, JSON.stringify(text));
    assert.equal(frame.byteOffset, 0);
    assert.deepEqual(frame.subarray(4), exact);
    assert.equal(utf8Length(JSON.stringify({ msg: text })), exact.length);
  }
});
