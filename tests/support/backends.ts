// The backends the chat-level suites run on: {SQLite file, MariaDB} × {in-process, Redis}, each
// fresh per test (a temporary file, a new database, a new Redis key prefix) and removed after.
// A combination whose service is missing is skipped with a loud message (failed when CI=true).

import mysql from "mysql2/promise";
import { createClient } from "redis";
import { InProcessCluster } from "../../lib/cluster/memory.ts";
import { connectRedisCluster } from "../../lib/cluster/redis.ts";
import type { Bus, Presence } from "../../lib/cluster/types.ts";
import { openMysqlStore, parseMysqlUrl } from "../../lib/store/mysql.ts";
import type { ServerFeatures } from "../../lib/store/mysql_append.ts";
import { openSqliteStore } from "../../lib/store/sqlite.ts";
import type { Repositories } from "../../lib/store/types.ts";
import { serviceAvailable, tcpOpen } from "./services.ts";

/** The MariaDB server of the tests, without a database part. */
export const MYSQL_SERVER_URL = (Deno.env.get("CHAT_TEST_MYSQL") ?? "mysql://root@127.0.0.1:3306")
  .replace(/\/+$/, "");
export const REDIS_URL = Deno.env.get("CHAT_TEST_REDIS") ?? "redis://127.0.0.1:6379";

export type StoreKind = "sqlite file" | "mariadb";
export type ClusterKind = "in-process" | "redis";

/** One combination of the matrix. */
export interface Backend {
  store: StoreKind;
  cluster: ClusterKind;
}

export const BACKEND_MATRIX: readonly Backend[] = [
  { store: "sqlite file", cluster: "in-process" },
  { store: "sqlite file", cluster: "redis" },
  { store: "mariadb", cluster: "in-process" },
  { store: "mariadb", cluster: "redis" },
];

export function backendName({ store, cluster }: Backend): string {
  return `${store} + ${cluster}`;
}

/** What one test's nodes share, and how to remove it all afterwards. */
export interface TestBackends {
  store: Repositories;
  /** A node's presence and bus. */
  node(nodeId: string): Promise<{ presence: Presence; bus: Bus }>;
  /** Closes the nodes' presence and bus, then the store, and removes what the test made. */
  close(): Promise<void>;
}

const mysqlServer = parseMysqlUrl(`${MYSQL_SERVER_URL}/probe`);
const redisServer = new URL(REDIS_URL);
const availability = new Map<string, Promise<boolean>>();

/** Whether the services of `backend` run here (asked once per service per test file). */
export async function backendAvailable(backend: Backend): Promise<boolean> {
  const checks: Promise<boolean>[] = [];
  if (backend.store === "mariadb") {
    checks.push(once("MariaDB", () => tcpOpen(mysqlServer.host, mysqlServer.port)));
  }
  if (backend.cluster === "redis") {
    checks.push(once("Redis", () => tcpOpen(redisServer.hostname, Number(redisServer.port))));
  }
  return (await Promise.all(checks)).every(Boolean);
}

function once(name: string, probe: () => Promise<boolean>): Promise<boolean> {
  let known = availability.get(name);
  if (!known) {
    known = serviceAvailable(name, probe);
    availability.set(name, known);
  }
  return known;
}

/** Fresh backends of one combination. */
export async function openTestBackends(
  backend: Backend,
  pendingCap?: number,
): Promise<TestBackends> {
  const store = backend.store === "mariadb"
    ? await openDroppingMysqlStore(freshDatabaseUrl(), pendingCap)
    : await openSqliteFile(pendingCap);
  const nodes: { presence: Presence; bus: Bus }[] = [];
  const prefix = `test:${randomHex()}:`;
  const inProcess = new InProcessCluster();
  return {
    store,
    async node(nodeId) {
      const node = backend.cluster === "redis"
        ? await connectRedisCluster({ url: REDIS_URL, nodeId, prefix, warn: () => {} })
        : { presence: inProcess.presence(nodeId), bus: inProcess.bus() };
      nodes.push(node);
      return node;
    },
    async close() {
      for (const { presence, bus } of nodes) {
        await bus.close();
        await presence.close();
      }
      await store.close();
      if (backend.cluster === "redis") await deleteRedisKeys(prefix);
    },
  };
}

async function openSqliteFile(pendingCap?: number): Promise<Repositories> {
  const dir = await Deno.makeTempDir({ prefix: "chat-test-" });
  const store = openSqliteStore(`${dir}/chat.db`, pendingCap);
  return {
    ...store,
    close: async () => {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A URL naming a database that does not exist yet on the test server. */
export function freshDatabaseUrl(): string {
  return `${MYSQL_SERVER_URL}/chat_test_${randomHex()}`;
}

/** Opens a MySQL store whose close() also drops its database. */
export async function openDroppingMysqlStore(
  url: string,
  pendingCap?: number,
  without?: Partial<ServerFeatures>,
): Promise<Repositories> {
  const store = await openMysqlStore(url, pendingCap, without);
  return {
    description: store.description,
    users: store.users,
    friends: store.friends,
    groups: store.groups,
    messages: store.messages,
    tokens: store.tokens,
    cursors: store.cursors,
    ping: () => store.ping(),
    close: async () => {
      await store.close();
      await dropDatabase(url);
    },
  };
}

export async function dropDatabase(url: string): Promise<void> {
  const { host, port, user, password, database } = parseMysqlUrl(url);
  const connection = await mysql.createConnection({ host, port, user, password });
  try {
    await connection.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await connection.end();
  }
}

async function deleteRedisKeys(prefix: string): Promise<void> {
  const admin = await createClient({ url: REDIS_URL }).connect();
  try {
    const keys: string[] = [];
    for await (const batch of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      keys.push(...batch);
    }
    if (keys.length > 0) await admin.del(keys);
  } finally {
    await admin.close();
  }
}

function randomHex(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(6)))
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The matrix with whether each combination's services run here. */
export type Matrix = readonly { backend: Backend; available: boolean }[];

/** Probes the services the matrix needs (a missing one: a loud skip, or a failure in CI). */
export async function backendMatrix(): Promise<Matrix> {
  return await Promise.all(
    BACKEND_MATRIX.map(async (backend) => ({
      backend,
      available: await backendAvailable(backend),
    })),
  );
}

/**
 * Declares one test per combination of backends, named `suite [combination]: name`. `skip`
 * names the combinations a test cannot run on, each with its reason, shown in the test's name.
 */
export function matrixTest<T extends { close(): Promise<void> }>(
  matrix: Matrix,
  suite: string,
  name: string,
  open: (backend: Backend) => Promise<T>,
  body: (subject: T) => Promise<void>,
  skip: Partial<Record<string, string>> = {},
): void {
  for (const { backend, available } of matrix) {
    const combination = backendName(backend);
    const reason = skip[combination];
    Deno.test({
      name: `${suite} [${combination}]: ${name}${reason ? ` (skipped: ${reason})` : ""}`,
      ignore: reason !== undefined || !available,
      async fn() {
        const subject = await open(backend);
        try {
          await body(subject);
        } finally {
          await subject.close();
        }
      },
    });
  }
}
