// Connection life against the real server process: idle timeout, request rate limit, slow
// consumers cut off, and the notice clients get when a server shuts down.

import assert from "node:assert/strict";
import { encodeFrame } from "../lib/codec.ts";
import { startServer } from "./support/server_process.ts";
import { WireClient } from "./support/wire_client.ts";

Deno.test("connection life: a silent connection is closed after the idle timeout", async () => {
  const server = await startServer(["--db", "sqlite::memory:", "--idle-timeout", "1"]);
  try {
    const silent = await WireClient.connect(server.port);
    const pinging = await WireClient.connect(server.port);
    let pingsAnswered = 0;
    const pinger = setInterval(async () => {
      if ((await pinging.request({ msgid: 15 }).catch(() => null))?.errno === 0) pingsAnswered++;
    }, 300);
    await silent.closed;
    clearInterval(pinger);
    assert.ok(pingsAnswered >= 2, `pings answered: ${pingsAnswered}`);
    assert.equal((await pinging.request({ msgid: 15 })).errno, 0, "a talking client stays");
    pinging.close();
  } finally {
    await server.stop();
  }
});

Deno.test("connection life: a flooding connection is rate limited, others are not", async () => {
  const server = await startServer(["--db", "sqlite::memory:", "--rate-limit", "20"]);
  try {
    const flooder = await WireClient.connect(server.port);
    const neighbour = await WireClient.connect(server.port);
    const replies = await Promise.all(
      Array.from({ length: 200 }, () => flooder.request({ msgid: 15 })),
    );
    const limited = replies.filter((reply) => reply.errno === 8).length;
    assert.ok(limited >= 100, `limited: ${limited}`);
    assert.ok(replies.every((reply) => reply.errno === 0 || reply.errno === 8));
    assert.equal((await neighbour.request({ msgid: 15 })).errno, 0);
    flooder.close();
    neighbour.close();
  } finally {
    await server.stop();
  }
});

Deno.test("connection life: a client that stops reading is cut off; others keep chatting", async () => {
  const server = await startServer(["--db", "sqlite::memory:", "--rate-limit", "100000"]);
  try {
    const sender = await WireClient.connect(server.port);
    const senderId = await sender.register("sender");
    const friendId = await sender.register("friend");
    const sleeperId = await sender.register("sleeper");
    await sender.login(senderId);
    const friend = await WireClient.connect(server.port);
    await friend.login(friendId);

    // The sleeper logs in with a raw socket and then never reads again.
    const sleeper = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await sleeper.write(encodeFrame({ msgid: 1, id: sleeperId, password: "pw", seq: 1 }));
    await new Promise((resolve) => setTimeout(resolve, 300));

    const big = "x".repeat(4096);
    let sent = 0;
    for (; sent < 4000; sent++) {
      const ack = await sender.request({ msgid: 6, toid: sleeperId, msg: big });
      assert.equal(ack.errno, 0);
      if (sent % 200 === 0) {
        const probe = await WireClient.connect(server.port);
        const online = await probe.login(sleeperId);
        probe.close();
        if (online.errno === 0) break; // the sleeper was cut off and marked offline
      }
    }
    assert.ok(sent < 4000, "the sleeper was never cut off");
    assert.equal((await sender.request({ msgid: 6, toid: friendId, msg: "still fast" })).errno, 0);
    await friend.until(() => friend.pushes.some((p) => p.msg === "still fast"), "friend push");
    sleeper.close();
    sender.close();
    friend.close();
  } finally {
    await server.stop();
  }
});

Deno.test("connection life: a graceful shutdown tells clients to reconnect", async () => {
  const server = await startServer(["--db", "sqlite::memory:"]);
  const client = await WireClient.connect(server.port);
  assert.equal((await client.request({ msgid: 15 })).errno, 0);
  const stopped = server.stop("SIGTERM");
  await client.closed;
  assert.deepEqual(client.pushes.map((p) => [p.msgid, p.notice]), [[16, "shutdown"]]);
  assert.equal((await stopped).code, 0);
});

Deno.test("connection life: at its open-files limit the server pauses accepts, logs once, and recovers", async () => {
  // A connection cap above the descriptors, so that accepting itself runs out of them (the
  // default cap, derived from the limit, would refuse connections before that).
  const server = await startServer(["--db", "sqlite::memory:", "--max-connections", "1000"], {}, {
    openFilesLimit: 64,
  });
  const extra: Deno.TcpConn[] = [];
  try {
    // More connections than descriptors: the kernel completes them all, the server cannot.
    for (let i = 0; i < 100; i++) {
      extra.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const failedLines = () =>
      server.stderr().split("\n").filter((line) => line.includes("accept failed")).length;
    // Retrying at once would log thousands of lines in that time; a run of failures logs one.
    assert.equal(failedLines(), 1, server.stderr().slice(0, 2000));
    assert.match(server.stderr(), /open-files limit/);

    for (const conn of extra.splice(0)) conn.close();
    const client = await WireClient.connect(server.port);
    const id = await client.register("after-the-limit");
    assert.equal((await client.login(id)).errno, 0);
    client.close();
    assert.match(server.stderr(), /accepting connections again/);
    // The backlog's closed connections, accepted now, may touch the limit again: a new run,
    // one more line each, never a line per try.
    assert.ok(failedLines() <= 3, server.stderr().slice(0, 2000));
  } finally {
    for (const conn of extra) conn.close();
    await server.stop();
  }
});
