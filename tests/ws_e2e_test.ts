// The WebSocket endpoint against the real server process (--http-port): the web client's files,
// chat between WebSocket and TCP users, bad input, limits, the Origin check, and shutdown.

import assert from "node:assert/strict";
import { type ServerProcess, startServer } from "./support/server_process.ts";
import { WireClient } from "./support/wire_client.ts";
import { WsClient } from "./support/ws_client.ts";

async function withServer(
  args: string[],
  body: (server: ServerProcess & { httpPort: number }) => Promise<void>,
): Promise<void> {
  const server = await startServer(["--db", "sqlite::memory:", "--http-port", "0", ...args]);
  try {
    assert.ok(server.httpPort, `no http port in the banner: ${server.banner}`);
    await body(server as ServerProcess & { httpPort: number });
  } finally {
    const status = await server.stop();
    assert.equal(status.code, 0, `server exit: ${server.stderr()}`);
  }
}

Deno.test("ws e2e: / serves the web client; /ws wants an upgrade; other paths are 404", async () => {
  await withServer([], async ({ httpPort }) => {
    const base = `http://127.0.0.1:${httpPort}`;
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.match(await page.text(), /<script type="module" src="app\.js">/);
    const script = await fetch(`${base}/app.js`);
    assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
    await script.body?.cancel();
    const plain = await fetch(`${base}/ws`);
    assert.equal(plain.status, 426);
    await plain.body?.cancel();
    for (const path of ["/nope", "/../server.ts", "/lib/core.ts"]) {
      const missing = await fetch(`${base}${path}`);
      assert.equal(missing.status, 404, path);
      await missing.body?.cancel();
    }
    const post = await fetch(`${base}/`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  });
});

Deno.test("ws e2e: a WebSocket user and a TCP user befriend and chat both ways", async () => {
  await withServer([], async ({ port, httpPort }) => {
    const web = await WsClient.connect(httpPort);
    const term = await WireClient.connect(port);
    const webId = await web.register("webby");
    const termId = await term.register("termy");
    const login = await web.request({ msgid: 1, id: webId, password: "pw", receipts: true });
    assert.equal(login.msgid, 2);
    assert.equal(login.errno, 0);
    assert.equal(login.name, "webby");
    assert.equal((await term.login(termId)).errno, 0);
    assert.equal((await web.request({ msgid: 7, friendid: termId })).errno, 0);
    const sent = await web.request({ msgid: 6, toid: termId, msg: "hello from a browser ✓" });
    assert.equal(sent.errno, 0);
    await term.until(() => term.pushes.length === 1, "the TCP user's push");
    assert.equal(term.pushes[0].msg, "hello from a browser ✓");
    assert.equal(term.pushes[0].name, "webby");
    assert.equal((await term.request({ msgid: 6, toid: webId, msg: "hi web" })).errno, 0);
    await web.until(() => web.pushes.length === 1, "the WebSocket user's push");
    const push = web.pushes[0];
    assert.equal(push.msg, "hi web");
    assert.equal(typeof push.mid, "number");
    assert.equal((await web.request({ msgid: 13, mids: [push.mid] })).errno, 0);
    const history = await web.request({ msgid: 14, peer: termId });
    assert.deepEqual(
      (history.messages as { msg: string }[]).map((message) => message.msg),
      ["hello from a browser ✓", "hi web"],
    );
    web.close();
    assert.equal(await web.closed, 1005);
    // The WebSocket user goes offline with their connection: they can log in again at once.
    const again = await WsClient.connect(httpPort);
    let relogin = await again.login(webId);
    for (let tries = 0; relogin.errno === 2 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      relogin = await again.login(webId);
    }
    assert.equal(relogin.errno, 0, "not stuck online");
    again.close();
    term.close();
  });
});

Deno.test("ws e2e: binary and malformed messages get ERROR errno 3; the socket stays", async () => {
  await withServer([], async ({ httpPort }) => {
    const client = await WsClient.connect(httpPort);
    client.sendRaw(new Uint8Array([0, 0, 0, 2, 123, 125]));
    client.sendRaw("{not json");
    client.sendRaw("[1,2]");
    client.sendRaw("");
    await client.until(() => client.errors.length === 4, "four errors");
    assert.deepEqual(client.errors.map((error) => [error.msgid, error.errno]), [
      [12, 3],
      [12, 3],
      [12, 3],
      [12, 3],
    ]);
    assert.match(String(client.errors[0].errmsg), /binary messages are not accepted/);
    assert.match(String(client.errors[1].errmsg), /not valid JSON/);
    assert.match(String(client.errors[2].errmsg), /must be a JSON object/);
    const unknown = await client.request({ msgid: 99 });
    assert.equal(unknown.msgid, 12);
    assert.equal(unknown.errno, 3);
    assert.equal((await client.request({ msgid: 15 })).errno, 0, "still usable");
    client.close();
  });
});

Deno.test("ws e2e: a message above --max-frame gets errno 7 and the connection ends", async () => {
  await withServer(["--max-frame", "1000"], async ({ httpPort }) => {
    const client = await WsClient.connect(httpPort);
    const bystander = await WsClient.connect(httpPort);
    assert.equal((await client.request({ msgid: 15, pad: "é".repeat(400) })).errno, 0);
    client.sendRaw(JSON.stringify({ msgid: 15, pad: "é".repeat(600) }));
    await client.closed;
    assert.deepEqual(client.errors.map((error) => error.errno), [7]);
    assert.match(String(client.errors[0].errmsg), /exceeds the limit of 1000/);
    assert.equal((await bystander.request({ msgid: 15 })).errno, 0);
    bystander.close();
  });
});

Deno.test("ws e2e: the rate limit and the idle timeout apply as on TCP", async () => {
  await withServer(["--rate-limit", "20", "--idle-timeout", "1"], async ({ httpPort }) => {
    const flooder = await WsClient.connect(httpPort);
    const replies = await Promise.all(
      Array.from({ length: 200 }, () => flooder.request({ msgid: 15 })),
    );
    const limited = replies.filter((reply) => reply.errno === 8).length;
    assert.ok(limited >= 100, `limited: ${limited}`);
    assert.ok(replies.every((reply) => reply.errno === 0 || reply.errno === 8));
    const silent = await WsClient.connect(httpPort);
    await silent.closed;
    flooder.close();
  });
});

Deno.test("ws e2e: a page of another origin is refused; listed and own origins are not", async () => {
  await withServer(["--http-origins", "https://chat.example.com"], async ({ httpPort }) => {
    await assert.rejects(WsClient.connect(httpPort, { origin: "https://evil.example" }));
    for (
      const origin of [
        "https://chat.example.com",
        `http://127.0.0.1:${httpPort}`,
        undefined,
      ]
    ) {
      const client = await WsClient.connect(httpPort, { origin });
      assert.equal((await client.request({ msgid: 15 })).errno, 0, String(origin));
      client.close();
    }
    const refused = await fetch(`http://127.0.0.1:${httpPort}/ws`, {
      headers: {
        origin: "https://evil.example",
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
      },
    });
    assert.equal(refused.status, 403);
    await refused.body?.cancel();
  });
});

Deno.test("ws e2e: at shutdown a WebSocket client gets the notice and the server exits 0", async () => {
  const server = await startServer(["--db", "sqlite::memory:", "--http-port", "0"]);
  const client = await WsClient.connect(server.httpPort!);
  assert.equal((await client.request({ msgid: 15 })).errno, 0);
  const status = await server.stop("SIGTERM");
  await client.closed;
  assert.equal(status.code, 0, server.stderr());
  assert.deepEqual(client.pushes.map((push) => push.notice), ["shutdown"]);
});
