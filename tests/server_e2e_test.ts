// End to end against the real server process on the embedded store: protocol behaviour over
// TCP, hostile input, restart persistence, signals and command-line errors.

import assert from "node:assert/strict";
import { encodeFrame } from "../lib/codec.ts";
import { startServer } from "./support/server_process.ts";
import { WireClient } from "./support/wire_client.ts";

const SERVER = new URL("../server.ts", import.meta.url).pathname;

async function withServer(
  body: (port: number, dbPath: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const db = `${dir}/chat.db`;
  const server = await startServer(["--db", `sqlite:${db}`]);
  try {
    await body(server.port, db);
  } finally {
    const status = await server.stop();
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, `server exit: ${server.stderr()}`);
  }
}

async function runServer(args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SERVER, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

Deno.test("server e2e: prints where it listens and which store it uses", async () => {
  const dir = await Deno.makeTempDir();
  const server = await startServer(["--db", `sqlite:${dir}/x.db`]);
  assert.match(server.banner, /listening on 127\.0\.0\.1:\d+ .*store=sqlite:.*x\.db/);
  assert.equal((await server.stop("SIGINT")).code, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("server e2e: two users befriend, chat both ways, and see each other online", async () => {
  await withServer(async (port) => {
    const alice = await WireClient.connect(port);
    const bob = await WireClient.connect(port);
    const aliceId = await alice.register("alice");
    const bobId = await bob.register("bob");
    assert.equal((await alice.login(aliceId)).errno, 0);
    assert.equal((await bob.login(bobId)).errno, 0);
    assert.equal((await alice.request({ msgid: 7, friendid: bobId })).errno, 0);
    assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "hi bob" })).errno, 0);
    await bob.until(() => bob.pushes.length === 1, "bob's push");
    assert.equal((await bob.request({ msgid: 6, toid: aliceId, msg: "hi alice" })).errno, 0);
    await alice.until(() => alice.pushes.length === 1, "alice's push");
    assert.equal(bob.pushes[0].msg, "hi bob");
    assert.equal(alice.pushes[0].name, "bob");
    assert.match(String(alice.pushes[0].time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    await alice.request({ msgid: 3 });
    const again = await alice.login(aliceId);
    assert.deepEqual(again.friends, [{ id: bobId, name: "bob", state: "online" }]);
    alice.close();
    bob.close();
  });
});

Deno.test("server e2e: hostile frames get errors and never disturb other clients", async () => {
  await withServer(async (port) => {
    const bystander = await WireClient.connect(port);
    const bystanderId = await bystander.register("bystander");
    await bystander.login(bystanderId);

    const hostile = await WireClient.connect(port);
    const frame = (text: string) => {
      const body = new TextEncoder().encode(text);
      const out = new Uint8Array(4 + body.length);
      new DataView(out.buffer).setUint32(0, body.length);
      out.set(body, 4);
      return out;
    };
    await hostile.writeBytes(frame("not json"));
    await hostile.writeBytes(frame("[1,2,3]"));
    await hostile.writeBytes(frame('"a string"'));
    await hostile.writeBytes(new Uint8Array([0, 0, 0, 0]));
    await hostile.writeBytes(new Uint8Array([0, 0, 0, 3, 0xc3, 0x28, 0xff]));
    await hostile.writeBytes(frame('{"msgid":1,"id":{"$gt":0},"password":"x"}'));
    await hostile.writeBytes(encodeFrame({ msgid: 1e308 }));
    await hostile.writeBytes(frame(`${"[".repeat(100_000)}${"]".repeat(100_000)}`));
    await hostile.writeBytes(frame(`{"a":${"[".repeat(5000)}${"]".repeat(5000)}}`));
    await hostile.until(() => hostile.errors.length >= 8, "error frames");
    assert.ok(hostile.errors.every((e) => e.msgid === 12 && e.errno === 3), "all errno 3");
    // The connection stays usable after non-fatal errors.
    assert.deepEqual(hostile.pushes.map((p) => [p.msgid, p.errno]), [[2, 3]], "seq-less login");
    hostile.pushes.length = 0;
    const chatBeforeLogin = await hostile.request({ msgid: 6, toid: bystanderId, msg: "x" });
    assert.equal(chatBeforeLogin.errno, 4);
    const wrongTypes = await hostile.request({ msgid: 4, name: { toString: 1 }, password: 1 });
    assert.equal(wrongTypes.errno, 3);
    const id = await hostile.register("hostile");
    assert.equal((await hostile.login(id)).errno, 0);
    assert.equal((await hostile.login(id)).errno, 2, "login twice");

    // A huge length header is fatal for that connection only.
    const huge = await WireClient.connect(port);
    await huge.writeBytes(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
    await huge.closed;
    assert.equal(huge.errors[0]?.errno, 7);

    // Plain text (an HTTP request, say) reads as a huge length: error, then closed.
    const http = await WireClient.connect(port);
    await http.writeBytes(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await http.closed;
    assert.equal(http.errors[0]?.errno, 7);
    assert.match(String(http.errors[0]?.errmsg), /began with the text "GET ".*not a text protocol/);
    assert.doesNotMatch(String(huge.errors[0]?.errmsg), /text/, "binary header: no text hint");

    // A truncated frame followed by a hang-up.
    const truncated = await WireClient.connect(port);
    await truncated.writeBytes(new Uint8Array([0, 0, 0, 50, 0x7b, 0x22]));
    truncated.close();

    // Random bytes on many connections.
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20; i++) {
      const noisy = await WireClient.connect(port);
      const bytes = new Uint8Array(1 + Math.floor(random() * 2000));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
      if (i % 2 === 0) bytes[0] = 0; // keep some lengths small enough to parse
      await noisy.writeBytes(bytes).catch(() => {});
      noisy.close();
    }

    // Everyone else is unaffected.
    const ack = await bystander.request({ msgid: 6, toid: id, msg: "still here?" });
    assert.equal(ack.errno, 0);
    await hostile.until(
      () => hostile.pushes.some((p) => p.msg === "still here?"),
      "push after hostile input",
    );
    const newcomer = await WireClient.connect(port);
    assert.equal(typeof await newcomer.register("newcomer"), "number");
    for (const c of [bystander, hostile, newcomer]) c.close();
  });
});

Deno.test("server e2e: a frame above --max-frame is refused and closes that connection", async () => {
  const server = await startServer(["--db", "sqlite::memory:", "--max-frame", "1000"]);
  try {
    const client = await WireClient.connect(server.port);
    const ok = await client.request({ msgid: 4, name: "small", password: "x".repeat(100) });
    assert.equal(ok.errno, 0);
    await client.writeBytes(encodeFrame({ msgid: 4, name: "big", password: "x".repeat(2000) }));
    await client.closed;
    assert.equal(client.errors[0].errno, 7);
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

/** A server on a SQLite file in a fresh directory; alice and bob registered, alice logged in. */
async function aliceAndBobOnFile() {
  const dir = await Deno.makeTempDir();
  const db = ["--db", `sqlite:${dir}/chat.db`];
  const server = await startServer(db);
  const alice = await WireClient.connect(server.port);
  const aliceId = await alice.register("alice");
  const bobId = await alice.register("bob");
  await alice.login(aliceId);
  return { dir, db, server, alice, aliceId, bobId };
}

Deno.test("server e2e: a restart keeps users, friends, groups and undelivered messages", async () => {
  const { dir, db, server: first, alice, aliceId, bobId } = await aliceAndBobOnFile();
  let server = first;
  await alice.request({ msgid: 7, friendid: bobId });
  const { groupid } = await alice.request({ msgid: 8, groupname: "team" });
  await alice.request({ msgid: 6, toid: bobId, msg: "while you were out" });
  await alice.request({ msgid: 10, groupid, msg: "group news" });
  const status = await server.stop("SIGTERM");
  assert.equal(status.code, 0);
  await alice.closed;

  server = await startServer(db);
  const bob = await WireClient.connect(server.port);
  const join = await bob.login(bobId);
  assert.equal(join.errno, 0);
  assert.deepEqual(join.friends, [{ id: aliceId, name: "alice", state: "offline" }]);
  assert.deepEqual((join.offlinemsg as { msg: string }[]).map((m) => m.msg), [
    "while you were out",
  ]);
  assert.equal((await bob.request({ msgid: 9, groupid })).errno, 0);
  const aliceAgain = await WireClient.connect(server.port);
  assert.equal((await aliceAgain.login(aliceId)).errno, 0, "shutdown marked alice offline");
  bob.close();
  aliceAgain.close();
  assert.equal((await server.stop("SIGINT")).code, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("server e2e: after SIGKILL every acknowledged message is still there", async () => {
  const { dir, db, server: first, alice, bobId } = await aliceAndBobOnFile();
  let server = first;
  // Requests in flight together, so the server commits them in shared transactions; the kill
  // comes as soon as the last ACK is read, with no time for a checkpoint or a clean close.
  const count = 400;
  const acks = await Promise.all(
    Array.from({ length: count }, (_, k) => alice.request({ msgid: 6, toid: bobId, msg: `m${k}` })),
  );
  assert.deepEqual(acks.filter((ack) => ack.errno !== 0), []);
  assert.equal((await server.stop("SIGKILL")).signal, "SIGKILL");
  await alice.closed;

  server = await startServer(db);
  const bob = await WireClient.connect(server.port);
  const join = await bob.login(bobId);
  // The first 200 ride in the login ACK, the rest follow as pushes.
  const offline = join.offlinemsg as { msg: string }[];
  await bob.until(() => offline.length + bob.pushes.length === count, "the whole backlog");
  assert.deepEqual(
    [...offline, ...bob.pushes].map((m) => m.msg),
    Array.from({ length: count }, (_, k) => `m${k}`),
  );
  bob.close();
  assert.equal((await server.stop("SIGINT")).code, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("server e2e: pushes a receipts client took directly and never acknowledged survive SIGKILL", async () => {
  const { dir, db, server: first, alice, bobId } = await aliceAndBobOnFile();
  let server = first;
  const bob = await WireClient.connect(server.port);
  assert.equal(
    (await bob.request({ msgid: 1, id: bobId, password: "pw", receipts: true })).errno,
    0,
  );
  const count = 300;
  const acks = await Promise.all(
    Array.from({ length: count }, (_, k) => alice.request({ msgid: 6, toid: bobId, msg: `m${k}` })),
  );
  assert.deepEqual(acks.filter((ack) => ack.errno !== 0), []);
  await bob.until(() => bob.pushes.length === count, "every push, live");
  // Bob confirms the first half; the second half is only on his delivery cursor, in memory.
  const mids = bob.pushes.map((push) => push.mid as number);
  assert.equal(
    (await bob.request({ msgid: 13, mids: mids.slice(0, count / 2) })).errno,
    0,
  );
  assert.equal((await server.stop("SIGKILL")).signal, "SIGKILL");
  await Promise.all([alice.closed, bob.closed]);

  server = await startServer(db);
  const again = await WireClient.connect(server.port);
  const join = await again.request({ msgid: 1, id: bobId, password: "pw", receipts: true });
  assert.equal(join.errno, 0);
  const offline = join.offlinemsg as { mid: number; msg: string }[];
  const total = offline.length + (join.offlinemore as number);
  await again.until(() => offline.length + again.pushes.length === total, "the whole backlog");
  const back = [...offline, ...again.pushes];
  const unconfirmed = Array.from({ length: count / 2 }, (_, k) => `m${count / 2 + k}`);
  const texts = back.map((m) => m.msg);
  assert.deepEqual(
    texts.slice(-unconfirmed.length),
    unconfirmed,
    "every unconfirmed one, in order",
  );
  const backMids = back.map((m) => Number(m.mid));
  assert.deepEqual(backMids, [...backMids].sort((a, b) => a - b), "in mid order");
  again.close();
  assert.equal((await server.stop("SIGINT")).code, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("server e2e: many clients at once", async () => {
  await withServer(async (port) => {
    const count = 60;
    const clients = await Promise.all(
      Array.from({ length: count }, () => WireClient.connect(port)),
    );
    const ids = await Promise.all(clients.map((c, i) => c.register(`user${i}x`)));
    await Promise.all(clients.map((c, i) => c.login(ids[i])));
    await Promise.all(
      clients.map((c, i) => c.request({ msgid: 6, toid: ids[(i + 1) % count], msg: `from ${i}` })),
    );
    await Promise.all(clients.map((c) => c.until(() => c.pushes.length === 1, "push")));
    clients.forEach((c, i) => assert.equal(c.pushes[0].msg, `from ${(i + count - 1) % count}`));
    clients.forEach((c) => c.close());
  });
});

Deno.test("server e2e: bad flags are one line and exit 2; --help exits 0", async () => {
  for (const args of [["--port", "nope"], ["--bogus"], ["--db", "postgres://x/y"], ["1", "2"]]) {
    const result = await runServer(args);
    assert.equal(result.code, 2, args.join(" "));
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, /^chatserver: /);
  }
  const help = await runServer(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /CHAT_DB/);
  assert.match((await runServer(["--version"])).stdout, /^chatserver \d+\.\d+\.\d+/);
});

Deno.test("server e2e: a port in use is one line and exit 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const result = await runServer([
    "--host",
    "127.0.0.1",
    String(listener.addr.port),
    "--db",
    "sqlite::memory:",
  ]);
  listener.close();
  assert.equal(result.code, 1);
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  assert.match(result.stderr, /address in use/);
});
