// WebSocket users across the cluster: two chatserver processes on MariaDB and Redis, each with
// its --http-port; a WebSocket user on one server chats with a TCP user and with another
// WebSocket user on the other, and is refused a second login anywhere.

import assert from "node:assert/strict";
import { type ServerProcess, startServer } from "./support/server_process.ts";
import { serviceAvailable, tcpOpen } from "./support/services.ts";
import { WireClient } from "./support/wire_client.ts";
import { WsClient } from "./support/ws_client.ts";
import { mysqlExec, uniqueHex } from "./support/mysql_cli.ts";

const ready = await serviceAvailable("MariaDB", () => tcpOpen("127.0.0.1", 3306)) &&
  await serviceAvailable("Redis", () => tcpOpen("127.0.0.1", 6379));

Deno.test({
  name: "ws cluster: WebSocket and TCP users on two servers chat through Redis",
  ignore: !ready,
  async fn() {
    const database = `chat_ws_${uniqueHex()}`;
    const args = [
      "--db",
      `mysql://root@127.0.0.1:3306/${database}`,
      "--redis",
      "redis://127.0.0.1:6379",
      "--redis-prefix",
      `test:${uniqueHex()}:`,
      "--http-port",
      "0",
    ];
    const servers: ServerProcess[] = [];
    try {
      const a = await startServer([...args, "--node-id", "node-a"]);
      servers.push(a);
      const b = await startServer([...args, "--node-id", "node-b"]);
      servers.push(b);
      const web = await WsClient.connect(a.httpPort!);
      const term = await WireClient.connect(b.port);
      const otherWeb = await WsClient.connect(b.httpPort!);
      const webId = await web.register("web-a");
      const termId = await term.register("term-b");
      const otherId = await otherWeb.register("web-b");
      const login = await web.request({ msgid: 1, id: webId, password: "pw", receipts: true });
      assert.equal(login.node, "node-a");
      assert.equal((await term.login(termId)).node, "node-b");
      assert.equal((await otherWeb.login(otherId)).node, "node-b");

      assert.equal((await web.request({ msgid: 6, toid: termId, msg: "a→b tcp" })).errno, 0);
      await term.until(() => term.pushes.length === 1, "the TCP user's push on node b");
      assert.equal(term.pushes[0].msg, "a→b tcp");
      assert.equal((await term.request({ msgid: 6, toid: webId, msg: "b tcp→a" })).errno, 0);
      assert.equal((await otherWeb.request({ msgid: 6, toid: webId, msg: "b ws→a" })).errno, 0);
      await web.until(() => web.pushes.length === 2, "the WebSocket user's pushes on node a");
      assert.deepEqual(web.pushes.map((push) => push.msg).sort(), ["b tcp→a", "b ws→a"]);
      assert.equal((await web.request({ msgid: 6, toid: otherId, msg: "a→b ws" })).errno, 0);
      await otherWeb.until(() => otherWeb.pushes.length === 1, "node b's WebSocket push");
      assert.equal(otherWeb.pushes[0].name, "web-a");

      const twice = await WsClient.connect(b.httpPort!);
      assert.equal((await twice.login(webId)).errno, 2, "online once in the whole cluster");
      for (const client of [web, term, otherWeb, twice]) client.close();
    } finally {
      for (const server of servers) await server.stop();
      await mysqlExec(`DROP DATABASE IF EXISTS ${database}`);
    }
  },
});
