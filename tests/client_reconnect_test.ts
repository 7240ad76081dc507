// The client keeps a session alive across lost connections: it reconnects with backoff, logs
// in again, shows each message once even when the server delivers it again, acknowledges what
// it showed, detects a server that stops answering, and gives up after --reconnect-timeout.

import assert from "node:assert/strict";
import type { Frame } from "../lib/protocol.ts";
import { type FakePeer, startFakeServer } from "./support/fake_server.ts";
import { startServer } from "./support/server_process.ts";

const CLIENT = new URL("../client.ts", import.meta.url).pathname;
const TIME = "2026-11-23T10:01:02.000Z";

function push(mid: number, msg: string): Frame {
  return { msgid: 6, mid, id: 2, name: "bob", toid: 1, msg, time: TIME };
}

function loginAck(frame: Frame, offlinemsg: Frame[]): Frame {
  return {
    msgid: 2,
    errno: 0,
    seq: frame.seq,
    id: 1,
    name: "alice",
    friends: [],
    groups: [],
    offlinemsg,
    offlinemore: 0,
    offlinedropped: 0,
    token: "fake-session-token",
  };
}

async function runClient(args: string[], script: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", CLIENT, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", TZ: "UTC" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

Deno.test("reconnect: logs in again, shows a redelivered message once, acknowledges it", async () => {
  const answer = async (frame: Frame, peer: FakePeer, connection: number) => {
    if (frame.msgid === 1 && connection === 0) {
      await peer.send(loginAck(frame, [push(40, "while away")]), push(41, "just before"));
      setTimeout(() => peer.close(), 200); // lost before the client's receipt for 41 arrives
    } else if (frame.msgid === 1) {
      // The server did not get the receipt for 41, so it delivers it again.
      await peer.send(loginAck(frame, [push(41, "just before"), push(42, "meanwhile")]));
    } else if (frame.msgid === 3) {
      await peer.send({ msgid: 11, errno: 0, seq: frame.seq });
    }
  };
  const server = startFakeServer((frame, peer) => answer(frame, peer, server.peers.indexOf(peer)));
  try {
    const run = await runClient(
      ["--reconnect-timeout", "10", "127.0.0.1", String(server.port)],
      "1\nalice\npw\nsleep:2500\n",
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    assert.equal(count(run.stdout, "while away"), 1);
    assert.equal(count(run.stdout, "just before"), 1, "redelivered message shown once");
    assert.equal(count(run.stdout, "meanwhile"), 1);
    assert.match(run.stdout, /^connection to server lost; reconnecting\.\.\.$/m);
    assert.match(run.stdout, /^reconnected$/m);
    assert.match(run.stdout, /^logged out$/m);
    assert.equal(server.peers.length, 2);
    const [first, second] = server.peers.map((peer) => peer.received);
    assert.deepEqual(first[0], {
      msgid: 1,
      seq: first[0].seq,
      name: "alice",
      password: "pw",
      receipts: true,
    });
    assert.deepEqual(
      second[0],
      { msgid: 1, seq: second[0].seq, name: "alice", token: "fake-session-token", receipts: true },
      "the same login again, with the token: the password never crosses the wire again",
    );
    for (const frame of second) assert.ok(!JSON.stringify(frame).includes("pw"), "no password");
    const acknowledged = second.filter((frame) => frame.msgid === 13).flatMap((f) => f.mids);
    assert.deepEqual(acknowledged.sort(), [41, 42], "what the second login delivered is acked");
  } finally {
    await server.close();
  }
});

Deno.test("reconnect: a server that stops answering pings is detected and left", async () => {
  const server = startFakeServer(async (frame, peer) => {
    if (frame.msgid === 1) await peer.send(loginAck(frame, []));
    // PING (15) is never answered.
  });
  try {
    const started = performance.now();
    const run = await runClient(
      ["--reconnect-timeout", "0", "--ping-interval", "0.3", "127.0.0.1", String(server.port)],
      "1\nalice\npw\nsleep:20000\n",
    );
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      "chatclient: connection to server lost: no answer to a ping within 0.3 s\n",
    );
    assert.ok(performance.now() - started < 15_000, "did not wait out the sleep");
    assert.ok(server.peers[0].received.some((frame) => frame.msgid === 15), "it pinged");
  } finally {
    await server.close();
  }
});

Deno.test("reconnect: gives up after --reconnect-timeout with one line and exit 1", async () => {
  const server = startFakeServer(async (frame, peer) => {
    if (frame.msgid === 1) await peer.send(loginAck(frame, []));
  });
  const closing = new Promise((resolve) => setTimeout(resolve, 1500)).then(() => server.close());
  const run = await runClient(
    ["--reconnect-timeout", "1", "127.0.0.1", String(server.port)],
    "1\nalice\npw\nsleep:20000\n",
  );
  await closing;
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /^chatclient: connection to server lost; gave up reconnecting after 1 s \(cannot connect to 127\.0\.0\.1:\d+: connection refused\)\n$/,
  );
  assert.match(run.stdout, /^connection to server lost; reconnecting\.\.\.$/m);
});

Deno.test("reconnect: a real server killed and restarted; the client catches up by itself", async () => {
  const dir = await Deno.makeTempDir();
  const db = ["--db", `sqlite:${dir}/chat.db`];
  let server = await startServer(db);
  const { port } = server;
  try {
    const signup = await runClient(["127.0.0.1", String(port)], "2\nann\npw\n2\nbea\npw\n");
    assert.equal(signup.code, 0, signup.stderr);
    const bea = runClient(
      ["--reconnect-timeout", "30", "127.0.0.1", String(port)],
      "1\nbea\npw\nsleep:9000\n",
    );
    await new Promise((resolve) => setTimeout(resolve, 1500)); // bea is logged in
    await server.stop("SIGKILL");
    server = await startServer([...db, "--port", String(port)]);
    const ann = await runClient(
      ["127.0.0.1", String(port)],
      "1\nann\npw\nchat:2:you missed this\n",
    );
    assert.match(ann.stdout, /^sent$/m);
    const run = await bea;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^connection to server lost; reconnecting\.\.\.$/m);
    assert.match(run.stdout, /^reconnected$/m);
    assert.equal(count(run.stdout, "ann(1): you missed this"), 1);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
