// The client connection against a fake server: seq matching, pushes, split and coalesced frames,
// and what pending requests see when the connection ends.

import assert from "node:assert/strict";
import { encodeFrame } from "../lib/codec.ts";
import type { Frame } from "../lib/protocol.ts";
import {
  connect,
  ConnectError,
  type Connection,
  ConnectionClosedError,
} from "../lib/client/connection.ts";
import { type FrameHandler, startFakeServer } from "./support/fake_server.ts";

const PUSH = { msgid: 6, id: 2, name: "bob", toid: 1, msg: "hi", time: "2026-11-23T10:01:02.000Z" };

/** Runs `body` with a connection to a fake server answering with `handler`. */
async function withServer(
  handler: FrameHandler,
  body: (connection: Connection, pushes: Frame[]) => Promise<void>,
): Promise<void> {
  const server = startFakeServer(handler);
  const pushes: Frame[] = [];
  const connection = await connect({
    hostname: "127.0.0.1",
    port: server.port,
    onPush: (frame) => pushes.push(frame),
  });
  try {
    await body(connection, pushes);
  } finally {
    connection.close();
    await server.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("requests get increasing seqs and the responses that echo them, in any order", async () => {
  const waiting: Frame[] = [];
  await withServer(async (frame, peer) => {
    waiting.push(frame);
    if (waiting.length < 2) return;
    await peer.send(...waiting.reverse().map((request) => ({ ...request, msgid: 11, errno: 0 })));
  }, async (connection) => {
    const [first, second] = await Promise.all([
      connection.request({ msgid: 7, friendid: 5 }),
      connection.request({ msgid: 9, groupid: 3 }),
    ]);
    assert.deepEqual(first, { msgid: 11, errno: 0, friendid: 5, seq: 1 });
    assert.deepEqual(second, { msgid: 11, errno: 0, groupid: 3, seq: 2 });
  });
});

Deno.test("pushes arriving while a request waits go to onPush", async () => {
  await withServer(async (frame, peer) => {
    await peer.send(PUSH);
    await delay(50);
    await peer.send(PUSH, { msgid: 11, errno: 0, seq: frame.seq });
  }, async (connection, pushes) => {
    const reply = connection.request({ msgid: 6, toid: 2, msg: "hello" });
    await delay(25);
    assert.deepEqual(pushes, [PUSH]);
    assert.deepEqual(await reply, { msgid: 11, errno: 0, seq: 1 });
    assert.deepEqual(pushes, [PUSH, PUSH]);
  });
});

Deno.test("frames split into single bytes are reassembled, and keep their order", async () => {
  await withServer(async (frame, peer) => {
    const reply = { msgid: 11, errno: 0, seq: frame.seq, time: "2026-11-23T10:01:02.000Z" };
    const bytes = [PUSH, reply, { ...PUSH, msg: "é€😀" }].flatMap((f) => [...encodeFrame(f)]);
    for (const byte of bytes) await peer.sendBytes(Uint8Array.of(byte));
  }, async (connection, pushes) => {
    const events: string[] = [];
    const reply = await connection.request({ msgid: 6, toid: 2, msg: "hello" });
    events.push(`reply after ${pushes.length} push(es)`);
    assert.equal(reply.time, "2026-11-23T10:01:02.000Z");
    while (pushes.length < 2) await delay(5);
    assert.deepEqual(events, ["reply after 1 push(es)"]);
    assert.equal(pushes[1].msg, "é€😀");
  });
});

Deno.test("code awaiting a response runs before a push coalesced after it", async () => {
  await withServer(async (frame, peer) => {
    await peer.send({ msgid: 2, errno: 0, seq: frame.seq }, PUSH, PUSH);
  }, async (connection, pushes) => {
    await connection.request({ msgid: 1, name: "alice", password: "pw" });
    assert.equal(pushes.length, 0);
    while (pushes.length < 2) await delay(5);
  });
});

Deno.test("the server closing mid-request rejects the request and resolves closed", async () => {
  await withServer((_frame, peer) => peer.close(), async (connection) => {
    const pending = connection.request({ msgid: 6, toid: 2, msg: "hello" });
    await assert.rejects(pending, (error) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.equal(error.message, "connection to server lost");
      return true;
    });
    const closed = await connection.closed;
    assert.equal(closed.message, "connection to server lost");
    await assert.rejects(connection.request({ msgid: 3 }), ConnectionClosedError);
  });
});

Deno.test("an invalid frame from the server ends the connection", async () => {
  await withServer(async (_frame, peer) => {
    await peer.sendBytes(Uint8Array.of(0, 0, 0, 3, 0x61, 0x62, 0x63));
  }, async (connection) => {
    await assert.rejects(connection.request({ msgid: 3 }), /server sent an invalid frame/);
    assert.match((await connection.closed).message, /not valid JSON/);
  });
});

Deno.test("an aborted request rejects with the signal's reason; its late reply is dropped", async () => {
  await withServer(async (frame, peer) => {
    await delay(80);
    await peer.send({ msgid: 11, errno: 0, seq: frame.seq });
  }, async (connection, pushes) => {
    const pending = connection.request({ msgid: 3 }, AbortSignal.timeout(20));
    await assert.rejects(pending, (error) => error instanceof DOMException);
    await delay(120);
    assert.deepEqual(pushes, []);
  });
});

Deno.test("close() rejects pending requests and later ones", async () => {
  await withServer(() => {}, async (connection) => {
    const pending = connection.request({ msgid: 3 });
    connection.close();
    await assert.rejects(pending, { message: "connection closed by client" });
    await assert.rejects(connection.request({ msgid: 3 }), ConnectionClosedError);
  });
});

Deno.test("connecting to a closed port fails with a one-line ConnectError", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  await assert.rejects(
    connect({ hostname: "127.0.0.1", port, onPush: () => {} }),
    (error) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.message, `cannot connect to 127.0.0.1:${port}: connection refused`);
      return true;
    },
  );
});
