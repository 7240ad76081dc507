// client.ts as a process: argument errors, unreachable and vanishing servers, and piped scripts
// against a fake server (each line's reply awaited before the next line, logout at end of input).

import assert from "node:assert/strict";
import type { Frame } from "../lib/protocol.ts";
import { type FakePeer, type FrameHandler, startFakeServer } from "./support/fake_server.ts";

const CLIENT = new URL("../client.ts", import.meta.url).pathname;
const TIME = "2026-11-23T10:01:02.000Z";
const LATER = "2026-11-23T10:01:03.000Z";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

async function runClient(args: string[], script = ""): Promise<Run> {
  const started = Date.now();
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
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
    ms: Date.now() - started,
  };
}

function assertOneLine(text: string, expected: RegExp): void {
  assert.match(text, /^[^\n]*\n$/, `expected one line, got ${JSON.stringify(text)}`);
  assert.match(text, expected);
  assert.doesNotMatch(text, /\bat (file|ext):|Uncaught/);
}

async function closedPort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  await Promise.resolve();
  return port;
}

/** A fake server for user alice (id 1, password "pw") with friend bob (2). */
function aliceServer(overrides: Partial<Record<number, FrameHandler>> = {}): FrameHandler {
  const ack = (frame: Frame, fields: Frame = {}) => ({
    msgid: 11,
    errno: 0,
    seq: frame.seq,
    ...fields,
  });
  const handlers: Record<number, FrameHandler> = {
    1: (frame, peer) =>
      peer.send(
        frame.password === "pw" && (frame.name === "alice" || frame.id === 1)
          ? {
            msgid: 2,
            errno: 0,
            seq: frame.seq,
            id: 1,
            name: "alice",
            node: "n1",
            friends: [{ id: 2, name: "bob", state: "online" }],
            groups: [],
            offlinemsg: [
              { msgid: 6, mid: 40, id: 2, name: "bob", toid: 1, msg: "while away", time: TIME },
            ],
          }
          : { msgid: 2, errno: 1, errmsg: "wrong id/name or password", seq: frame.seq },
      ),
    3: (frame, peer) => peer.send(ack(frame)),
    4: (frame, peer) => peer.send({ msgid: 5, errno: 0, seq: frame.seq, id: 7 }),
    6: (frame, peer) => peer.send(ack(frame, { time: TIME })),
    7: (frame, peer) => peer.send(ack(frame)),
    ...overrides,
  };
  return (frame, peer) => handlers[frame.msgid as number]?.(frame, peer);
}

async function withServer(
  handler: FrameHandler,
  body: (port: number, peers: FakePeer[]) => Promise<void>,
): Promise<void> {
  const server = startFakeServer(handler);
  try {
    await body(server.port, server.peers);
  } finally {
    await server.close();
  }
}

Deno.test("--help prints the usage and exits 0", async () => {
  const run = await runClient(["--help"]);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /^usage: chatclient \[options\] <host> <port>/);
  assert.equal(run.stderr, "");
});

Deno.test("bad arguments: one line on stderr, exit 2", async () => {
  for (const args of [[], ["127.0.0.1"], ["h", "0"], ["h", "port"], ["h", "1", "x"], ["-x"]]) {
    const run = await runClient(args);
    assert.equal(run.code, 2, `args ${JSON.stringify(args)}`);
    assertOneLine(run.stderr, /^chatclient: .*\(try --help\)$/m);
    assert.equal(run.stdout, "");
  }
});

Deno.test("a closed port: one line on stderr, exit 1", async () => {
  const port = await closedPort();
  const run = await runClient(["127.0.0.1", String(port)]);
  assert.equal(run.code, 1);
  assert.equal(run.stderr, `chatclient: cannot connect to 127.0.0.1:${port}: connection refused\n`);
  assertOneLine(run.stderr, /connection refused/);
});

Deno.test("a piped script runs line by line, each reply awaited, and logs out at the end", async () => {
  const events: string[] = [];
  const chatReply = async (frame: Frame, peer: FakePeer) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    events.push("chat acknowledged");
    await peer.send(
      { msgid: 11, errno: 0, seq: frame.seq, time: TIME },
      { msgid: 6, mid: 41, id: 2, name: "bob", toid: 1, msg: "hi: back", time: LATER },
    );
  };
  const record = (handler: FrameHandler): FrameHandler => (frame, peer) => {
    events.push(`msgid ${frame.msgid}`);
    return handler(frame, peer);
  };
  await withServer(record(aliceServer({ 6: chatReply })), async (port, peers) => {
    const script = [
      "2",
      "carol",
      "pw",
      "1",
      "alice",
      "wrong",
      "login",
      "alice",
      "pw",
      "chat:2:hello: there",
      "sleep:100",
      "nonsense",
      "addfriend:x",
      "",
      "addfriend:5",
    ].join("\n");
    const run = await runClient(["127.0.0.1", String(port)], script);
    assert.equal(run.stderr, "");
    assert.equal(run.code, 0);
    assert.deepEqual(run.stdout.split("\n"), [
      "registered, your id is 7",
      "error: wrong id/name or password (errno 1)",
      "connected to node n1",
      "logged in as alice(1)",
      "friends (1):",
      "  bob(2) online",
      "groups: none",
      "offline messages (1):",
      "  [2026-11-23 10:01:02] bob(2): while away",
      "sent",
      "[2026-11-23 10:01:03] bob(2): hi: back",
      'error: unknown command "nonsense" (type help)',
      'error: friend id must be a positive integer, not "x"',
      "friend 5 added",
      "logged out",
      "",
    ]);
    assert.deepEqual(events.filter((event) => event !== "msgid 13"), [
      "msgid 4",
      "msgid 1",
      "msgid 1",
      "msgid 6",
      "chat acknowledged",
      "msgid 7",
      "msgid 3",
    ]);
    const sent = peers[0].received.filter((frame) => frame.msgid !== 13);
    assert.deepEqual(sent.map((frame) => frame.seq), [1, 2, 3, 4, 5, 6]);
    const { key, ...chat } = sent[3];
    assert.deepEqual(chat, { msgid: 6, toid: 2, msg: "hello: there", seq: 4 });
    assert.match(String(key), /^[0-9a-f-]{36}$/, "a chat request carries an idempotency key");
    assert.deepEqual(sent[1], {
      msgid: 1,
      name: "alice",
      password: "wrong",
      receipts: true,
      seq: 2,
    });
    const receipts = peers[0].received.filter((frame) => frame.msgid === 13);
    assert.deepEqual(receipts.flatMap((frame) => frame.mids), [40, 41], "both mids acknowledged");
  });
});

Deno.test("end of input when logged out sends nothing more", async () => {
  await withServer(aliceServer(), async (port, peers) => {
    const run = await runClient(["127.0.0.1", String(port)], "1\n1\npw\nlogout\n");
    assert.equal(run.code, 0);
    assert.match(run.stdout, /logged in as alice\(1\)\n[^]*logged out\n$/);
    // login, the receipt for the offline message, logout
    assert.deepEqual(peers[0].received.map((frame) => frame.msgid), [1, 13, 3]);
  });
});

Deno.test("logging out at end of input waits at most about 2 s for the reply", async () => {
  await withServer(aliceServer({ 3: () => {} }), async (port) => {
    const run = await runClient(["127.0.0.1", String(port)], "1\nalice\npw\n");
    assert.equal(run.code, 0);
    assert.equal(run.stderr, "");
    assert.ok(run.ms < 6_000, `took ${run.ms} ms`);
  });
});

Deno.test("the server going away: one line on stderr, exit 1, without waiting out a sleep", async () => {
  const closeSoon: FrameHandler = async (frame, peer) => {
    await aliceServer()(frame, peer);
    setTimeout(() => peer.close(), 100);
  };
  await withServer(closeSoon, async (port) => {
    const run = await runClient(
      ["--reconnect-timeout", "0", "127.0.0.1", String(port)],
      "1\nalice\npw\nsleep:20000\n",
    );
    assert.equal(run.code, 1);
    assertOneLine(run.stderr, /^chatclient: connection to server lost$/m);
    assert.match(run.stdout, /logged in as alice\(1\)/);
    assert.ok(run.ms < 10_000, `took ${run.ms} ms`);
  });
});
