// lib/connection.ts's outbound side over a fake socket: what counts against the outbound limit
// (queued frames and the write under way alike), and how much one write takes from the queue.

import assert from "node:assert/strict";
import { encodeFrame } from "../lib/codec.ts";
import { ClientConnection, MAX_BATCH_BYTES } from "../lib/connection.ts";

/** A socket whose writes complete at once, or (stuck) never; reads never complete. */
class FakeConn {
  readonly writes: Uint8Array[] = [];
  constructor(readonly stuck: boolean) {}
  readonly remoteAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };
  write(bytes: Uint8Array): Promise<number> {
    this.writes.push(bytes.slice());
    return this.stuck ? new Promise(() => {}) : Promise.resolve(bytes.length);
  }
  read(): Promise<number | null> {
    return new Promise(() => {});
  }
  close(): void {}
}

function connection(conn: FakeConn, maxQueuedBytes?: number): ClientConnection {
  return new ClientConnection(1, conn as unknown as Deno.Conn, {
    maxFrame: 1 << 20,
    maxQueuedBytes,
  });
}

const frameOf = (bytes: number) => ({ msgid: 5, msg: "x".repeat(bytes - 24) });

Deno.test("connection: the write under way counts against the outbound limit, not only the queue", () => {
  const conn = new FakeConn(true);
  const client = connection(conn, 1000);
  client.send(frameOf(600)); // taken by a write that never completes
  assert.equal(conn.writes.length, 1);
  let accepted = 0;
  while (!client.closed && accepted < 20) {
    client.send(frameOf(100));
    if (!client.closed) accepted++;
  }
  assert.equal(client.closeReason, "outbound queue overflow: client is not reading");
  // 600 bytes under way + 4 × 100 queued = 1,000: the fifth 100-byte frame passes the limit.
  assert.equal(accepted, 4);
});

Deno.test("connection: one write takes at most MAX_BATCH_BYTES of queued frames, in order", async () => {
  const conn = new FakeConn(false);
  const client = connection(conn);
  const frames = Array.from({ length: 60 }, (_, k) => ({ msgid: 5, k, msg: "y".repeat(10_000) }));
  for (const frame of frames) client.send(frame);
  assert.equal(await client.written(), true);
  assert.ok(conn.writes.length > 2, `${conn.writes.length} writes`);
  for (const write of conn.writes) assert.ok(write.length <= MAX_BATCH_BYTES, `${write.length}`);
  const sent = new Uint8Array(conn.writes.reduce((sum, write) => sum + write.length, 0));
  let offset = 0;
  for (const write of conn.writes) {
    sent.set(write, offset);
    offset += write.length;
  }
  const expected = frames.map(encodeFrame);
  assert.deepEqual(sent, new Uint8Array(expected.flatMap((bytes) => [...bytes])));
  assert.equal(client.unwrittenBytes, 0);
});

Deno.test("connection: a frame larger than a batch still goes, in a write of its own", async () => {
  const conn = new FakeConn(false);
  const client = connection(conn);
  client.send({ msgid: 5, msg: "small" });
  client.send({ msgid: 5, msg: "z".repeat(MAX_BATCH_BYTES + 1000) });
  assert.equal(await client.written(), true);
  assert.ok(conn.writes.some((write) => write.length > MAX_BATCH_BYTES));
});
