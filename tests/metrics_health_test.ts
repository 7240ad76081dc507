// End to end with a private Redis (its own redis-server on a free port, never the shared one):
// two real servers pass a message over Redis pub/sub and the receiver's lag metric moves; then
// Redis stops, /healthz turns 503 and Redis errors are counted, and when Redis is back it is 200.

import assert from "node:assert/strict";
import { adminUrl, get, pollUntil, scrape } from "./support/metrics_scrape.ts";
import { type ServerProcess, startServer } from "./support/server_process.ts";
import { freePort, serviceAvailable, tcpOpen } from "./support/services.ts";
import { WireClient } from "./support/wire_client.ts";

const ignore = !await serviceAvailable("redis-server (the binary)", async () => {
  const { success } = await new Deno.Command("redis-server", {
    args: ["--version"],
    stdout: "null",
    stderr: "null",
  }).output();
  return success;
});

/** A redis-server of this test's own, on a fixed port so it can be stopped and started again. */
class PrivateRedis {
  #process: Deno.ChildProcess | null = null;

  constructor(readonly port: number, readonly dir: string) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const process = new Deno.Command("redis-server", {
      args: [
        ...["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir],
        ...["--save", "", "--appendonly", "no", "--logfile", `${this.dir}/redis.log`],
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#process = process;
    let exited = false;
    process.status.then(() => exited = true);
    await pollUntil(async () => {
      if (exited) throw new Error(`redis-server exited: ${await this.#log()}`);
      return await tcpOpen("127.0.0.1", this.port);
    }, `redis-server on port ${this.port}`);
  }

  async stop(): Promise<void> {
    const process = this.#process;
    if (!process) return;
    this.#process = null;
    try {
      process.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await process.status;
  }

  async #log(): Promise<string> {
    return await Deno.readTextFile(`${this.dir}/redis.log`).catch(() => "(no log)");
  }
}

async function healthz(server: ServerProcess): Promise<{ status: number; body: string }> {
  return await get(`${adminUrl(server.banner)}/healthz`);
}

Deno.test({
  name: "metrics health: pub/sub lag moves, and /healthz follows a private Redis down and up",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    const redis = new PrivateRedis(freePort(), dir);
    const servers: ServerProcess[] = [];
    const clients: WireClient[] = [];
    try {
      await redis.start();
      const prefix = `test:metrics:${crypto.randomUUID()}:`;
      const args = [
        ...["--db", `sqlite:${dir}/chat.db`, "--redis", redis.url, "--redis-prefix", prefix],
        ...["--metrics-port", "0"],
      ];
      const a = await startServer(args);
      servers.push(a);
      const b = await startServer(args);
      servers.push(b);
      assert.deepEqual(await healthz(a), { status: 200, body: "ok" });
      assert.deepEqual(await healthz(b), { status: 200, body: "ok" });

      const alice = await WireClient.connect(a.port);
      const bob = await WireClient.connect(b.port);
      clients.push(alice, bob);
      const aliceId = await alice.register("alice");
      const bobId = await bob.register("bob");
      assert.equal((await alice.login(aliceId)).errno, 0);
      assert.equal((await bob.login(bobId)).errno, 0);
      assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "over redis" })).errno, 0);
      await bob.until(() => bob.pushes.length === 1, "bob's push through Redis");

      const onA = await scrape(adminUrl(a.banner));
      const onB = await scrape(adminUrl(b.banner));
      assert.equal(onA("chat_messages_stored_total"), 1);
      assert.equal(onA("chat_offline_deliveries_total"), 0);
      assert.equal(onA("chat_pubsub_envelopes_received_total"), 0);
      assert.equal(onB("chat_pubsub_envelopes_received_total"), 1);
      assert.equal(onB("chat_pubsub_lag_seconds_count"), 1, "the envelope kept its publish time");
      assert.equal(onB("chat_delivery_latency_seconds_count"), 1);
      assert.equal(onB("chat_frames_sent_total", { msgid: "6" }), 1);
      assert.equal(onA("chat_backend_errors_total", { backend: "cluster" }), 0);

      await redis.stop();
      let down = { status: 0, body: "" };
      await pollUntil(async () => (down = await healthz(a)).status === 503, "/healthz 503");
      assert.match(down.body, /^not answering: cluster presence$/);
      await pollUntil(async () => (await healthz(b)).status === 503, "/healthz 503 on b");

      // The message is stored (errno 0) but cannot be routed: a Redis error, left pending.
      assert.equal((await alice.request({ msgid: 6, toid: bobId, msg: "while down" })).errno, 0);
      const during = await scrape(adminUrl(a.banner));
      assert.equal(during("chat_messages_stored_total"), 2);
      assert.ok(during("chat_backend_errors_total", { backend: "cluster" })! >= 1);
      assert.equal(during("chat_offline_deliveries_total"), 1);
      assert.equal(during("chat_backend_errors_total", { backend: "store" }), 0);

      await redis.start();
      await pollUntil(async () => (await healthz(a)).status === 200, "/healthz 200 again");
      await pollUntil(async () => (await healthz(b)).status === 200, "/healthz 200 again on b");
      assert.deepEqual(await healthz(a), { status: 200, body: "ok" });
    } finally {
      for (const client of clients) client.close();
      const statuses = [];
      for (const server of servers) statuses.push(await server.stop());
      await redis.stop();
      await Deno.remove(dir, { recursive: true });
      statuses.forEach((status, i) => {
        assert.equal(status.code, 0, `server ${i} exit: ${servers[i].stderr()}`);
      });
    }
  },
});
