// Bounds on connections, whoever opens them: at most --max-connections at once (the one past it
// gets ERROR errno 7 and is closed, the others are untouched), and --login-timeout for a
// connection to log in (what it sends meanwhile, PING included, does not extend it).

import assert from "node:assert/strict";
import { LoginDeadlines } from "../lib/login_deadline.ts";
import { RecordingConnection, TestCluster } from "./support/harness.ts";
import { startServer } from "./support/server_process.ts";
import { WireClient } from "./support/wire_client.ts";

Deno.test("core: past maxConnections a connection gets errno 7 and is closed", async () => {
  const cluster = new TestCluster();
  cluster.maxConnections = 2;
  try {
    const core = await cluster.core("node-a");
    const [first, second, third] = [1, 2, 3].map(() => new RecordingConnection());
    const serving = [first, second].map((c) => core.serve(c, c.requests()));
    await core.serve(third, third.requests());
    assert.deepEqual(third.take(), [{
      msgid: 12,
      errno: 7,
      errmsg: "too many connections: this server serves at most 2; try again later",
    }]);
    assert.equal(third.closeReason, "connection limit");
    assert.equal(core.connectionCount, 2);
    first.feed({ kind: "frame", frame: { msgid: 15, seq: 1 } });
    assert.deepEqual(await first.next(), { msgid: 11, seq: 1, errno: 0 }, "untouched");
    first.close();
    await serving[0];
    const fourth = new RecordingConnection();
    const admitted = core.serve(fourth, fourth.requests());
    fourth.feed({ kind: "frame", frame: { msgid: 15, seq: 1 } });
    assert.deepEqual(await fourth.next(), { msgid: 11, seq: 1, errno: 0 }, "room again");
    second.close();
    fourth.close();
    await Promise.all([serving[1], admitted]);
  } finally {
    await cluster.close();
  }
});

Deno.test("login deadlines: from opening or logout; pings do not extend them", () => {
  let now = 0;
  const deadlines = new LoginDeadlines<string>(30_000, () => now);
  deadlines.update("idle", false);
  deadlines.update("member", false);
  now = 10_000;
  deadlines.update("idle", false); // a PING: still logged out, the deadline stays
  deadlines.update("member", true); // logged in
  deadlines.update("late", false);
  now = 29_999;
  assert.deepEqual(deadlines.expired(), []);
  now = 30_000;
  assert.deepEqual(deadlines.expired(), ["idle"]);
  deadlines.forget("idle");
  deadlines.update("member", false); // logged out at 30 s: 30 s from now
  now = 40_000;
  assert.deepEqual(deadlines.expired(), ["late"]);
  deadlines.forget("late");
  now = 59_999;
  assert.deepEqual(deadlines.expired(), []);
  now = 60_000;
  assert.deepEqual(deadlines.expired(), ["member"]);
});

Deno.test("chatserver: --max-connections refuses the one past it, others go on", async () => {
  const server = await startServer(["--db", "sqlite::memory:", "--max-connections", "2"]);
  try {
    const first = await WireClient.connect(server.port);
    const second = await WireClient.connect(server.port);
    assert.equal((await first.request({ msgid: 15 })).errno, 0);
    assert.equal((await second.request({ msgid: 15 })).errno, 0);
    const third = await WireClient.connect(server.port);
    await third.closed;
    assert.deepEqual(third.errors.map((frame) => frame.errno), [7]);
    assert.equal((await first.request({ msgid: 15 })).errno, 0, "those connected are untouched");
    first.close();
    await waitFor(async () => {
      const next = await WireClient.connect(server.port);
      const ok = await next.request({ msgid: 15 }, 2000).then((r) => r.errno === 0, () => false);
      next.close();
      return ok;
    });
    second.close();
    third.close();
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

Deno.test("chatserver: --login-timeout closes a connection that does not log in", async () => {
  const server = await startServer(["--db", "sqlite::memory:", "--login-timeout", "1"]);
  try {
    const member = await WireClient.connect(server.port);
    const id = await member.register("ann");
    assert.equal((await member.login(id)).errno, 0);
    const lurker = await WireClient.connect(server.port);
    const started = performance.now();
    // Pinging does not help: the deadline counts from the connection's opening.
    const pinging = setInterval(() => void lurker.request({ msgid: 15 }).catch(() => {}), 200);
    await lurker.closed;
    clearInterval(pinging);
    assert.ok(performance.now() - started >= 900, "not before the timeout");
    assert.equal((await member.request({ msgid: 15 })).errno, 0, "the logged-in one stays");
    member.close();
    lurker.close();
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
