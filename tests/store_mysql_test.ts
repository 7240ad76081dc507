// Runs the repository contract against MySQL/MariaDB, each test on a fresh database that is
// dropped afterwards, and checks what is MySQL's own: reading the URL, an unreachable server,
// schema.sql applied by hand with the mysql client, and recovery when the server goes away.
// The server is CHAT_TEST_MYSQL (default mysql://root@127.0.0.1:3306, no database part).

import assert from "node:assert/strict";
import { StorageError } from "../lib/errors.ts";
import {
  describeMysqlLocation,
  insertReturningIn,
  openMysqlStore,
  parseMysqlUrl,
} from "../lib/store/mysql.ts";
import { storeContract } from "./store_contract.ts";
import { freePort, serviceAvailable, tcpOpen } from "./support/services.ts";
import {
  dropDatabase,
  freshDatabaseUrl,
  MYSQL_SERVER_URL,
  openDroppingMysqlStore,
} from "./support/backends.ts";

const serverUrl = MYSQL_SERVER_URL;
const server = parseMysqlUrl(`${serverUrl}/probe`);
const available = await serviceAvailable("MariaDB", () => tcpOpen(server.host, server.port));
const clientAvailable = available &&
  await serviceAvailable("the mysql command-line client", async () => {
    const command = new Deno.Command("mysql", { args: ["--version"], stdout: "null" });
    return (await command.output()).success;
  });
const SCHEMA_TABLES = [
  "AllGroup",
  "DeliveryCursor",
  "Friend",
  "GroupUser",
  "Mailbox",
  "Message",
  "OfflineMessage",
  "SessionToken",
  "User",
];

storeContract(
  "mysql",
  (pendingCap) => openDroppingMysqlStore(freshDatabaseUrl(), pendingCap),
  !available,
);

storeContract(
  "mysql (without INSERT RETURNING, as on MySQL)",
  (pendingCap) => openDroppingMysqlStore(freshDatabaseUrl(), pendingCap, { insertReturning: true }),
  !available,
);

storeContract("mysql (schema.sql applied by the mysql client)", async (pendingCap) => {
  const url = freshDatabaseUrl();
  await applySchemaWithClient(url);
  return openDroppingMysqlStore(url, pendingCap);
}, !clientAvailable);

Deno.test({
  name: "mysql store: schema.sql applied by the mysql client creates every table",
  ignore: !clientAvailable,
  async fn() {
    const url = freshDatabaseUrl();
    try {
      await applySchemaWithClient(url);
      const tables = await mysqlClient(url, ["--skip-column-names", "-e", "SHOW TABLES"]);
      assert.deepEqual(tables.trim().split("\n").sort(), SCHEMA_TABLES);
    } finally {
      await dropDatabase(url);
    }
  },
});

Deno.test({
  name: "mysql store: describes itself by its location without the password",
  ignore: !available,
  async fn() {
    const url = freshDatabaseUrl();
    const store = await openDroppingMysqlStore(url);
    await store.close();
    assert.equal(store.description, describeMysqlLocation(parseMysqlUrl(url)));
  },
});

Deno.test("mysql store: a location is described without its password", () => {
  const location = parseMysqlUrl("mysql://chat%40app:secret@db.example/chat");
  assert.equal(describeMysqlLocation(location), "mysql://chat%40app@db.example:3306/chat");
});

Deno.test("mysql store: reads user, password, host, port and database from the URL", () => {
  assert.deepEqual(parseMysqlUrl("mysql://chat%40app:p%3Ass%20w@db.example:3307/chat_1"), {
    host: "db.example",
    port: 3307,
    user: "chat@app",
    password: "p:ss w",
    database: "chat_1",
  });
  assert.deepEqual(parseMysqlUrl("mysql://root@127.0.0.1/chat"), {
    host: "127.0.0.1",
    port: 3306,
    user: "root",
    password: "",
    database: "chat",
  });
  for (const bad of ["root@127.0.0.1/chat", "http://h/chat", "mysql://h/", "mysql://h/a;b"]) {
    assert.throws(() => parseMysqlUrl(bad), TypeError, bad);
  }
});

Deno.test({
  name: "mysql store: opening against a closed port fails fast and leaves nothing running",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const started = performance.now();
    await assert.rejects(
      openMysqlStore(`mysql://root@127.0.0.1:${freePort()}/chat`),
      (error) =>
        error instanceof StorageError &&
        /cannot connect to MySQL at 127\.0\.0\.1:\d+: .*ECONNREFUSED/.test(error.detail),
    );
    assert.ok(performance.now() - started < 5_000, "took longer than 5 s");
  },
});

Deno.test({
  name: "mysql store: fails with StorageError while MySQL is away and recovers on its own",
  ignore: !available,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const url = freshDatabaseUrl();
    const relayPort = freePort();
    let relay = startRelay(relayPort, server);
    const store = await openMysqlStore(throughRelay(url, relayPort));
    try {
      const alice = await store.users.create("alice", "h");
      const bob = await store.users.create("bob", "h");
      const message = {
        senderId: bob,
        senderName: "bob",
        toId: alice,
        groupId: null,
        msg: "hi",
        time: new Date().toISOString(),
        key: null,
        recipients: [alice],
      };

      // MySQL restarts while the server is idle: the pool sees its connections close (the
      // sockets' end events need one turn of the event loop) and opens new ones when needed.
      await relay.stop();
      relay = startRelay(relayPort, server);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal((await store.users.findById(alice))?.name, "alice");

      await relay.stop(); // MySQL is away while calls are made.
      const isStorageError = (error: unknown) => error instanceof StorageError;
      const lookups = await Promise.allSettled(
        Array.from({ length: 25 }, () => store.users.findById(alice)),
      );
      assert.ok(
        lookups.every((lookup) => lookup.status === "rejected" && isStorageError(lookup.reason)),
      );
      await assert.rejects(store.friends.add(alice, bob), isStorageError);
      await assert.rejects(store.messages.append(message), isStorageError);
      await assert.rejects(store.messages.pending(alice), isStorageError);
      assert.equal(await store.ping(), false);

      relay = startRelay(relayPort, server);
      assert.equal(await store.ping(), true);
      const found = await Promise.all(
        Array.from({ length: 30 }, () => store.users.findById(bob)),
      );
      assert.ok(found.every((user) => user?.name === "bob"));
      await store.friends.add(alice, bob);
      assert.deepEqual((await store.friends.list(alice)).map((friend) => friend.id), [bob]);
      assert.deepEqual(await store.messages.pending(alice), [], "a failed append left rows behind");
      assert.deepEqual(
        await store.messages.history({
          userId: alice,
          peerId: bob,
          groupId: null,
          beforeMid: null,
          limit: 10,
        }),
        [],
      );
    } finally {
      await store.close();
      await relay.stop();
      await dropDatabase(url);
    }
  },
});

Deno.test({
  name: "mysql store: a group message reaches 150 members whole and in order, or not at all",
  ignore: !available,
  async fn() {
    const store = await openDroppingMysqlStore(freshDatabaseUrl());
    try {
      const sender = await store.users.create("sender", "h");
      const members: number[] = [];
      for (let i = 0; i < 150; i++) members.push(await store.users.create(`m${i}`, "h"));
      const groupId = await store.groups.create(sender, "big", "");
      const groupMessage = (msg: string, recipients: number[]) => ({
        senderId: sender,
        senderName: "sender",
        toId: null,
        groupId,
        msg,
        time: new Date().toISOString(),
        key: null,
        recipients,
      });
      await store.messages.append(groupMessage("one", members));
      await store.messages.append(groupMessage("two", [...members].reverse()));
      for (const member of [members[0], members[77], members[149]]) {
        assert.deepEqual((await store.messages.pending(member)).map((m) => m.msg), ["one", "two"]);
      }
      // A recipient that does not exist fails the whole append, after 150 rows went in.
      await assert.rejects(
        store.messages.append(groupMessage("three", [...members, members[149] + 1000])),
        StorageError,
      );
      assert.equal((await store.messages.pending(members[0])).length, 2);
      const history = { userId: sender, peerId: null, groupId, beforeMid: null, limit: 10 };
      assert.deepEqual((await store.messages.history(history)).map((m) => m.msg), ["one", "two"]);
    } finally {
      await store.close();
    }
  },
});

Deno.test({
  name: "mysql store: concurrent retries with one idempotency key store one message",
  ignore: !available,
  async fn() {
    const store = await openDroppingMysqlStore(freshDatabaseUrl());
    try {
      const a = await store.users.create("a", "h");
      const b = await store.users.create("b", "h");
      const retry = () =>
        store.messages.append({
          senderId: a,
          senderName: "a",
          toId: b,
          groupId: null,
          msg: "once",
          time: new Date().toISOString(),
          key: "k-1",
          recipients: [b],
        });
      const results = await Promise.all(Array.from({ length: 8 }, retry));
      assert.equal(results.filter((result) => !result.duplicate).length, 1);
      assert.equal(new Set(results.map((result) => result.message.mid)).size, 1);
      assert.deepEqual((await store.messages.pending(b)).map((m) => m.msg), ["once"]);
    } finally {
      await store.close();
    }
  },
});

Deno.test({
  name: "mysql store: a group that fails halfway through creation leaves nothing behind",
  ignore: !available,
  async fn() {
    const store = await openDroppingMysqlStore(freshDatabaseUrl());
    try {
      const owner = await store.users.create("owner", "h");
      // The group row goes in, then the creator's membership fails on its foreign key.
      await assert.rejects(store.groups.create(owner + 1000, "team", ""), StorageError);
      const groupId = await store.groups.create(owner, "team", "");
      assert.deepEqual((await store.groups.listForUser(owner)).map((group) => group.id), [groupId]);
    } finally {
      await store.close();
    }
  },
});

/** Creates the database and feeds schema.sql to `mysql <db>`, as a person would. */
async function applySchemaWithClient(url: string): Promise<void> {
  const { database } = parseMysqlUrl(url);
  await mysqlClient(url, ["-e", `CREATE DATABASE \`${database}\``], { omitDatabase: true });
  await mysqlClient(url, [], {
    stdin: await Deno.readFile(new URL("../schema.sql", import.meta.url)),
  });
}

/** Runs the mysql command-line client against the URL's server and database; returns stdout. */
async function mysqlClient(
  url: string,
  args: string[],
  options: { stdin?: Uint8Array; omitDatabase?: boolean } = {},
): Promise<string> {
  const { host, port, user, password, database } = parseMysqlUrl(url);
  const child = new Deno.Command("mysql", {
    args: [
      `--host=${host}`,
      `--port=${port}`,
      `--user=${user}`,
      "--default-character-set=utf8mb4",
      ...args,
      ...(options.omitDatabase ? [] : [database]),
    ],
    env: password ? { MYSQL_PWD: password } : {},
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const { success, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  assert.ok(success, `mysql ${args.join(" ")} failed: ${decoder.decode(stderr)}`);
  return decoder.decode(stdout);
}

/** The same database URL, reached through the relay on 127.0.0.1:relayPort. */
function throughRelay(url: string, relayPort: number): string {
  const relayed = new URL(url);
  relayed.hostname = "127.0.0.1";
  relayed.port = String(relayPort);
  return relayed.href;
}

/**
 * A TCP relay to MySQL that a test can stop, cutting every connection as a MySQL shutdown
 * would, and start again on the same port.
 */
function startRelay(port: number, target: { host: string; port: number }) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const open = new Set<Deno.Conn>();
  const piping: Promise<unknown>[] = [];
  const relayConnection = async (client: Deno.Conn) => {
    open.add(client);
    const upstream = await Deno.connect({ hostname: target.host, port: target.port });
    open.add(upstream);
    await Promise.allSettled([
      client.readable.pipeTo(upstream.writable),
      upstream.readable.pipeTo(client.writable),
    ]);
  };
  const accepting = (async () => {
    for await (const client of listener) piping.push(relayConnection(client).catch(() => {}));
  })().catch(() => {});
  return {
    async stop() {
      listener.close();
      for (const connection of open) closeQuietly(connection);
      await accepting;
      await Promise.all(piping);
    },
  };
}

function closeQuietly(connection: Deno.Conn): void {
  try {
    connection.close();
  } catch {
    // Already closed by the end of its stream.
  }
}

Deno.test("mysql store: INSERT RETURNING is used on MariaDB 10.5 and later only", () => {
  const cases: [string, boolean][] = [
    ["10.11.19-MariaDB-0+deb12u1", true],
    ["10.5.0-MariaDB", true],
    ["11.4.2-MariaDB-ubu2404", true],
    ["10.4.34-MariaDB", false],
    ["8.0.36", false],
    ["8.4.0-0ubuntu0.24.04.1", false],
    ["5.5.5-10.11.6-MariaDB-log", false],
  ];
  for (const [version, expected] of cases) {
    assert.equal(insertReturningIn(version), expected, version);
  }
});
