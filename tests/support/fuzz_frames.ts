// Hostile input for the chat server, drawn from a seeded generator: random bytes, truncated and
// oversize frames, empty frames, invalid UTF-8, deep nesting, huge strings, wrong types, unknown
// msgids, and well-formed requests with mutated fields. Each draw is one chunk of bytes to write.

import { encodeFrame, encodeJsonFrame } from "../../lib/codec.ts";
import type { Frame } from "../../lib/protocol.ts";
import { concat } from "./frames.ts";
import type { Prng } from "./prng.ts";

export interface FuzzChunk {
  kind: string;
  bytes: Uint8Array;
  /** Frames in the chunk (whole or not). */
  frames: number;
  /** Write the bytes in small pieces, so frames are split across reads. */
  split: boolean;
  /** Hang up after writing (a client vanishing mid-frame). */
  hangUp: boolean;
}

/** Ids the fuzzer aims at, so some mutated requests reach deep into the handlers. */
export interface FuzzTargets {
  userIds: number[];
  groupIds: number[];
  /** Users the fuzzer may log in as (password "pw"). */
  ownIds: number[];
}

const KINDS: Array<[number, string]> = [
  [8, "random-bytes"],
  [6, "truncated"],
  [2, "huge-length"],
  [4, "zero-length"],
  [4, "bad-utf8"],
  [6, "non-object"],
  [1, "deep-nesting"],
  [1, "huge-string"],
  [10, "wrong-types"],
  [8, "unknown-msgid"],
  [40, "mutated"],
  [6, "burst"],
];
const TOTAL_WEIGHT = KINDS.reduce((sum, [weight]) => sum + weight, 0);

export function fuzzChunk(prng: Prng, targets: FuzzTargets, maxFrame: number): FuzzChunk {
  let roll = prng.next() * TOTAL_WEIGHT;
  let kind = KINDS[0][1];
  for (const [weight, name] of KINDS) {
    if ((roll -= weight) < 0) {
      kind = name;
      break;
    }
  }
  const chunk = (bytes: Uint8Array, hangUp = false, frames = 1): FuzzChunk => ({
    kind,
    bytes,
    frames,
    split: prng.chance(0.1),
    hangUp,
  });
  switch (kind) {
    case "random-bytes":
      // Mostly followed by a hang-up: the stream is out of step from here on.
      return chunk(prng.bytes(prng.int(1, 300)), prng.chance(0.9));
    case "truncated": {
      const whole = encodeFrame(request(prng, targets));
      return chunk(whole.subarray(0, prng.int(1, whole.length - 1)), prng.chance(0.9));
    }
    case "huge-length": {
      const header = new Uint8Array(4 + prng.int(0, 64));
      new DataView(header.buffer).setUint32(0, prng.int(maxFrame + 1, 0xffffffff));
      return chunk(header, true); // the server closes the connection
    }
    case "zero-length":
      return chunk(new Uint8Array(4));
    case "bad-utf8":
      return chunk(rawFrame(prng.pick(BAD_UTF8)));
    case "non-object":
      return chunk(encodeJsonFrame(prng.pick(NON_OBJECTS)));
    case "deep-nesting":
      return chunk(encodeJsonFrame(deepJson(prng, Math.floor(maxFrame / 4))));
    case "huge-string": {
      const field = prng.pick(["msg", "name", "password", "groupname", "key", "msgid", "seq"]);
      const text = prng.pick(["x", "é", "😀", "\u0000", '"']).repeat(logUniform(prng, 300_000));
      const frame = { ...request(prng, targets), [field]: text };
      return chunk(encodeFrame(frame));
    }
    case "wrong-types": {
      const frame = request(prng, targets);
      for (const field of Object.keys(frame)) {
        if (prng.chance(0.5)) frame[field] = oddValue(prng);
      }
      return chunk(encodeFrame(frame));
    }
    case "unknown-msgid":
      return chunk(encodeFrame({ ...request(prng, targets), msgid: oddMsgid(prng) }));
    case "burst": {
      const frames = Array.from(
        { length: prng.int(2, 40) },
        () => encodeFrame(request(prng, targets)),
      );
      return chunk(concat(frames), false, frames.length);
    }
    default:
      return chunk(encodeFrame(mutate(prng, request(prng, targets))));
  }
}

/** A well-formed request of a random kind, aimed at the targets. */
function request(prng: Prng, targets: FuzzTargets): Frame {
  const user = () => prng.chance(0.8) ? prng.pick(targets.userIds) : prng.int(1, 1000);
  const group = () => prng.chance(0.8) ? prng.pick(targets.groupIds) : prng.int(1, 1000);
  const seq = prng.chance(0.7) ? { seq: prng.int(0, 1_000_000) } : {};
  const password = () => prng.chance(0.9) ? "" : prng.chance(0.3) ? "pw" : "x";
  const text = () => prng.pick(["hi", "é😀", "x".repeat(prng.int(1, 300)), "a\u0000b", "\u202e"]);
  const templates: Array<() => Frame> = [
    // Logins and registrations cost a password hash each; most are made to fail early.
    () => ({ msgid: 1, id: prng.pick(targets.ownIds), password: password() }),
    () => ({ msgid: 1, name: `fz${prng.int(0, 5)}`, password: password() }),
    () => ({ msgid: 3 }),
    () => ({ msgid: 4, name: `fz${prng.int(0, 1e9)}`, password: prng.chance(0.99) ? "" : "pw" }),
    () => ({ msgid: 6, toid: user(), msg: text(), key: `k${prng.int(0, 50)}` }),
    () => ({ msgid: 6, toid: user(), msg: text() }),
    () => ({ msgid: 7, friendid: user() }),
    () => ({ msgid: 8, groupname: `g${prng.int(0, 1e6)}`, groupdesc: text() }),
    () => ({ msgid: 9, groupid: group() }),
    () => ({ msgid: 10, groupid: group(), msg: text() }),
    () => ({ msgid: 13, mids: Array.from({ length: prng.int(0, 1200) }, () => prng.int(-5, 1e6)) }),
    () => ({ msgid: 14, peer: user(), limit: prng.int(-1, 200), before: prng.int(0, 1e6) }),
    () => ({ msgid: 14, groupid: group() }),
    () => ({ msgid: 15 }),
  ];
  return { ...prng.pick(templates)(), ...seq };
}

/** Changes, removes or adds one to three fields. */
function mutate(prng: Prng, frame: Frame): Frame {
  const fields = [...Object.keys(frame), "id", "seq", "receipts", "__proto__", "constructor"];
  for (let n = prng.int(1, 3); n > 0; n--) {
    const field = prng.pick(fields);
    const roll = prng.next();
    const value = roll < 0.6 ? oddValue(prng) : boundaryNumber(prng);
    if (roll < 0.2) delete frame[field];
    else {Object.defineProperty(frame, field, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });}
  }
  return frame;
}

function oddValue(prng: Prng): unknown {
  return prng.pick<() => unknown>([
    () => null,
    () => true,
    () => "",
    () => "1",
    () => [],
    () => [1, 2],
    () => ({}),
    () => ({ $gt: 0 }),
    () => ({ toString: 1, valueOf: 2 }),
    () => boundaryNumber(prng),
    () => "x".repeat(prng.int(0, 5000)),
    () => "\ud800",
    () => [[[[[[[[[[]]]]]]]]]],
  ])();
}

function boundaryNumber(prng: Prng): number {
  return prng.pick([
    0,
    -0,
    -1,
    1,
    1.5,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 63),
    1e308,
    -1e308,
    5e-324,
    Number.MAX_SAFE_INTEGER,
  ]);
}

function oddMsgid(prng: Prng): unknown {
  return prng.pick<() => unknown>([
    () => prng.int(16, 1e9),
    () => prng.int(-1e6, 0),
    () => prng.int(1, 15) + 0.5,
    () => String(prng.int(1, 15)),
    () => null,
    () => [prng.int(1, 15)],
    () => ({ msgid: 1 }),
    () => 1e308,
  ])();
}

/** An integer from 1 to `max`, as likely below 10 as below 10 000: mostly small, some huge. */
function logUniform(prng: Prng, max: number): number {
  return Math.max(1, Math.floor(max ** prng.next()));
}

function deepJson(prng: Prng, maxDepth: number): string {
  const depth = logUniform(prng, maxDepth);
  const shape = prng.int(0, 3);
  if (shape === 0) return `${"[".repeat(depth)}${"]".repeat(depth)}`;
  if (shape === 1) return `{"msgid":${"[".repeat(depth)}${"]".repeat(depth)}}`;
  if (shape === 2) return `{"msgid":6,"toid":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
  return `{"a":${"[".repeat(depth)}`; // never closed: invalid JSON
}

const BAD_UTF8 = [
  [0xc3, 0x28],
  [0xff, 0xfe, 0xfd],
  [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d], // {"a":"<surrogate>"}
  [0xe2, 0x82],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xef, 0xbb, 0xbf, 0x7b, 0x7d], // BOM then {}
];

const NON_OBJECTS = ["[]", "[1,2,3]", '"a string"', "42", "null", "true", "-0", "1e999", "{", "}"];

function rawFrame(body: number[]): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}
