// End to end: the real server with --metrics-port 0 on the embedded store. Two clients register,
// log in and chat over TCP while /metrics is scraped over HTTP to see the counters move.

import assert from "node:assert/strict";
import { adminUrl, get, scrape, scrapeUntil } from "./support/metrics_scrape.ts";
import { startServer } from "./support/server_process.ts";
import { WireClient } from "./support/wire_client.ts";

Deno.test("metrics e2e: without --metrics-port there is no metrics address", async () => {
  const dir = await Deno.makeTempDir();
  const server = await startServer(["--db", `sqlite:${dir}/chat.db`]);
  try {
    assert.doesNotMatch(server.banner, /metrics=/);
  } finally {
    assert.equal((await server.stop()).code, 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("metrics e2e: /metrics counts a real chat and /healthz is ok", async () => {
  const dir = await Deno.makeTempDir();
  const server = await startServer(["--db", `sqlite:${dir}/chat.db`, "--metrics-port", "0"]);
  const clients: WireClient[] = [];
  try {
    assert.match(server.banner, / metrics=http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const base = adminUrl(server.banner);
    assert.deepEqual(await get(`${base}/healthz`), { status: 200, body: "ok" });
    assert.equal((await get(`${base}/nothing`)).status, 404);

    let sample = await scrape(base);
    assert.equal(sample("chat_connections_open"), 0);
    assert.equal(sample("chat_users_logged_in"), 0);
    assert.equal(sample("chat_frames_received_total", { msgid: "1" }), undefined);
    assert.equal(sample("chat_messages_stored_total"), 0);
    assert.equal(sample("chat_delivery_latency_seconds_count"), 0);

    const alice = await WireClient.connect(server.port);
    const bob = await WireClient.connect(server.port);
    clients.push(alice, bob);
    const aliceId = await alice.register("alice");
    const bobId = await bob.register("bob");
    assert.equal((await bob.login(bobId, "wrong")).errno, 1);
    assert.equal((await alice.login(aliceId)).errno, 0);
    assert.equal((await bob.login(bobId)).errno, 0);

    sample = await scrape(base);
    assert.equal(sample("chat_connections_open"), 2);
    assert.equal(sample("chat_users_logged_in"), 2);
    assert.equal(sample("chat_frames_received_total", { msgid: "4" }), 2);
    assert.equal(sample("chat_frames_received_total", { msgid: "1" }), 3);
    assert.equal(sample("chat_frames_sent_total", { msgid: "5" }), 2);
    assert.equal(sample("chat_frames_sent_total", { msgid: "2" }), 3);
    assert.equal(sample("chat_error_responses_total", { errno: "1" }), 1);
    assert.equal(sample("chat_login_failures_total"), 1);

    assert.equal((await alice.request({ msgid: 7, friendid: bobId })).errno, 0);
    assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "hi bob" })).errno, 0);
    await bob.until(() => bob.pushes.length === 1, "bob's push");
    assert.equal((await bob.request({ msgid: 6, toid: 999_999, msg: "anyone?" })).errno, 5);
    await bob.writeBytes(new Uint8Array([0, 0, 0, 2, 0x7b, 0x7b])); // "{{": not JSON
    await bob.until(() => bob.errors.length === 1, "bob's ERROR for a bad frame");

    sample = await scrape(base);
    assert.equal(sample("chat_frames_received_total", { msgid: "6" }), 2);
    assert.equal(sample("chat_frames_received_total", { msgid: "7" }), 1);
    assert.equal(sample("chat_frames_received_total", { msgid: "invalid" }), 1);
    assert.equal(sample("chat_frames_sent_total", { msgid: "6" }), 1);
    assert.equal(sample("chat_error_responses_total", { errno: "5" }), 1);
    assert.equal(sample("chat_error_responses_total", { errno: "3" }), 1);
    assert.equal(sample("chat_messages_stored_total"), 1);
    assert.equal(sample("chat_offline_deliveries_total"), 0);
    assert.equal(sample("chat_delivery_latency_seconds_count"), 1);
    assert.equal(sample("chat_delivery_latency_seconds_bucket", { le: "+Inf" }), 1);

    // Bob leaves: the next message waits for him.
    assert.equal((await bob.request({ msgid: 3 })).errno, 0);
    assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "still there?" })).errno, 0);
    sample = await scrape(base);
    assert.equal(sample("chat_users_logged_in"), 1);
    assert.equal(sample("chat_messages_stored_total"), 2);
    assert.equal(sample("chat_offline_deliveries_total"), 1);
    assert.equal(sample("chat_delivery_latency_seconds_count"), 1);
    assert.equal(sample("chat_backend_errors_total", { backend: "store" }), 0);

    for (const client of clients.splice(0)) client.close();
    await scrapeUntil(
      base,
      (s) => s("chat_connections_open") === 0 && s("chat_users_logged_in") === 0,
      "the closed connections to be counted out",
    );
  } finally {
    for (const client of clients) client.close();
    const status = await server.stop();
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, `server exit: ${server.stderr()}`);
  }
});

Deno.test("metrics e2e: a metrics port in use is one line and exit 1", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dir = await Deno.makeTempDir();
  try {
    const port = String(taken.addr.port);
    await assert.rejects(
      startServer(["--db", `sqlite:${dir}/chat.db`, "--metrics-port", port]),
      (error: Error) => {
        assert.match(error.message, /exit 1/);
        assert.match(
          error.message,
          new RegExp(`127\\.0\\.0\\.1:${port} \\(metrics\\): address in use`),
        );
        return true;
      },
    );
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});
