// ChatCore.serve without a transport: a connection's stream of requests is answered in order,
// bad input gets its ERROR, an oversize request ends the connection, a closed connection ends
// its user's session, and close() tells everyone, ends every session and closes the backends.

import assert from "node:assert/strict";
import type { ChatCore } from "../lib/core.ts";
import { RecordingConnection, TestCluster } from "./support/harness.ts";

function coreTest(name: string, body: (core: ChatCore, cluster: TestCluster) => Promise<void>) {
  Deno.test(`core: ${name}`, async () => {
    const cluster = new TestCluster();
    try {
      await body(await cluster.core("node-a"), cluster);
    } finally {
      await cluster.close();
    }
  });
}

coreTest("requests are answered in order; bad input gets ERROR errno 3", async (core) => {
  const connection = new RecordingConnection();
  const serving = core.serve(connection, connection.requests());
  connection.feed(
    { kind: "frame", frame: { msgid: 4, name: "ann", password: "pw", seq: 1 } },
    { kind: "invalid", reason: "frame is not valid JSON" },
    { kind: "frame", frame: { msgid: 15, seq: 2 } },
  );
  assert.deepEqual(await connection.next(), { msgid: 5, seq: 1, errno: 0, id: 1 });
  assert.deepEqual(await connection.next(), {
    msgid: 12,
    errno: 3,
    errmsg: "bad request: frame is not valid JSON",
  });
  assert.equal((await connection.next()).seq, 2);
  assert.equal(core.connectionCount, 1);
  connection.close();
  await serving;
  assert.equal(core.connectionCount, 0);
});

coreTest("an oversize request gets errno 7 with the transport's hint, then the end", async (c) => {
  const connection = new RecordingConnection();
  const serving = c.serve(connection, connection.requests());
  connection.feed({ kind: "oversize", length: 5_000_000, hint: "it looked like HTTP" });
  await serving;
  assert.deepEqual(connection.take(), [{
    msgid: 12,
    errno: 7,
    errmsg: "frame of 5000000 bytes exceeds the limit of 1048576: it looked like HTTP",
  }]);
  assert.equal(connection.closeReason, "oversize frame");
});

coreTest("invalid input without a rate-limit token closes the connection", async (core) => {
  const connection = new RecordingConnection();
  connection.admitting = false;
  const serving = core.serve(connection, connection.requests());
  connection.feed({ kind: "invalid", reason: "empty frame" });
  await serving;
  assert.deepEqual(connection.take(), []);
  assert.equal(connection.closeReason, "flooding invalid frames");
});

coreTest("a connection that ends takes its user offline", async (core) => {
  const connection = new RecordingConnection();
  const serving = core.serve(connection, connection.requests());
  connection.feed({ kind: "frame", frame: { msgid: 4, name: "ann", password: "pw", seq: 1 } });
  const { id } = await connection.next();
  connection.feed({ kind: "frame", frame: { msgid: 1, id, password: "pw", seq: 2 } });
  assert.equal((await connection.next()).errno, 0);
  assert.deepEqual([...(await core.deps.presence.locate([id as number])).keys()], [id]);
  connection.close("peer went away");
  await serving;
  assert.equal(core.deps.sessions.size, 0);
  assert.equal((await core.deps.presence.locate([id as number])).size, 0);
});

coreTest("close() sends the shutdown notice, ends sessions, refuses new ones", async (core) => {
  const connection = new RecordingConnection();
  const serving = core.serve(connection, connection.requests());
  connection.feed({ kind: "frame", frame: { msgid: 15, seq: 1 } });
  await connection.next();
  await core.close();
  await serving;
  assert.equal(connection.take()[0]?.notice, "shutdown");
  assert.equal(connection.closeReason, "server shutting down");
  const late = new RecordingConnection();
  await core.serve(late, late.requests());
  assert.equal(late.closeReason, "server shutting down");
  assert.deepEqual(late.take(), []);
});
