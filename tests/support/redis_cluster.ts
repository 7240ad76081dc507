// A private Redis Cluster for tests: six redis-server processes (3 masters, 3 replicas,
// `cluster-enabled yes`, `cluster-node-timeout 2000`, no persistence) on free ports below 55535
// (a cluster node also listens on port + 10000), in a temporary directory, created with
// `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`. It can kill a node with
// SIGKILL or freeze it with SIGSTOP, and say which master owns a key; `stop` kills every node and removes the directory.

import { tcpOpen } from "./services.ts";

const NODES = 6;
const NODE_TIMEOUT_MS = 2000;

export interface ClusterNodeInfo {
  port: number;
  role: "master" | "slave";
}

export interface RedisClusterFixture {
  /** "127.0.0.1:port" of every node, for --redis-cluster. */
  readonly seeds: string[];
  readonly ports: number[];
  /** The port of the master owning `key`'s slot now (as node `askPort` sees it). */
  masterOf(key: string, askPort?: number): Promise<number>;
  /** True when the master on `port` has a replica that is not failing (it can fail over). */
  replicated(port: number): Promise<boolean>;
  /** Kills the node on `port` at once (SIGKILL). */
  kill(port: number): Promise<void>;
  /** Stops the node on `port` (SIGSTOP): it keeps its connections and answers nothing. */
  pause(port: number): void;
  /** Waits until every live node says cluster_state:ok and each slot has a live master. */
  settled(timeoutMs?: number): Promise<void>;
  /** Runs redis-cli against a node; its stdout. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** Kills every node and removes the directory. */
  stop(): Promise<void>;
}

/** True when redis-server and redis-cli run and redis-server is 7.0 or newer (sharded pub/sub). */
export async function redisClusterSupported(): Promise<boolean> {
  try {
    const version = await run("redis-server", ["--version"]);
    const cli = await run("redis-cli", ["--version"]);
    const major = Number(version.match(/v=(\d+)\./)?.[1] ?? 0);
    return major >= 7 && cli.length > 0;
  } catch {
    return false;
  }
}

export async function startRedisCluster(): Promise<RedisClusterFixture> {
  const dir = await Deno.makeTempDir({ prefix: "chat-redis-cluster-" });
  const children = new Map<number, Deno.ChildProcess>();
  const ports = freeClusterPorts(NODES);
  const cli = (port: number, ...args: string[]) =>
    run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args]);

  const kill = async (port: number) => {
    const child = children.get(port);
    children.delete(port);
    if (!child) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
  };
  const stop = async () => {
    await Promise.all([...children.keys()].map(kill));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  const settled = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      try {
        last = await clusterProblem([...children.keys()], cli);
        if (!last) return;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the Redis Cluster did not settle in ${timeoutMs} ms: ${last}`);
  };

  try {
    for (const port of ports) {
      const nodeDir = `${dir}/${port}`;
      await Deno.mkdir(nodeDir);
      children.set(
        port,
        new Deno.Command("redis-server", {
          args: [
            "--port",
            String(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            nodeDir,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            String(NODE_TIMEOUT_MS),
            "--save",
            "",
            "--appendonly",
            "no",
          ],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }
    for (const port of ports) await waitOpen(port);
    await run("redis-cli", [
      "--cluster",
      "create",
      ...ports.map((port) => `127.0.0.1:${port}`),
      "--cluster-replicas",
      "1",
      "--cluster-yes",
    ]);
    await settled();
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    seeds: ports.map((port) => `127.0.0.1:${port}`),
    ports,
    async masterOf(key, askPort) {
      const live = [...children.keys()];
      const port = askPort ?? live[0];
      const slot = Number((await cli(port, "cluster", "keyslot", key)).trim());
      for (const line of (await cli(port, "cluster", "nodes")).trim().split("\n")) {
        const [, address, flags, , , , , , ...ranges] = line.split(" ");
        if (!flags.includes("master") || flags.includes("fail")) continue;
        const owns = ranges.some((range) => {
          const [from, to = from] = range.split("-").map(Number);
          return slot >= from && slot <= to;
        });
        if (owns) return Number(address.split("@")[0].split(":")[1]);
      }
      throw new Error(`no live master owns slot ${slot}`);
    },
    async replicated(port) {
      const nodes = (await cli(port, "cluster", "nodes")).trim().split("\n").map((line) =>
        line.split(" ")
      );
      const master = nodes.find(([, , flags]) => flags.includes("myself"))?.[0];
      return nodes.some(([, , flags, masterId]) =>
        masterId === master && flags.includes("slave") && !flags.includes("fail")
      );
    },
    kill,
    pause(port) {
      children.get(port)?.kill("SIGSTOP");
    },
    settled,
    cli,
    stop,
  };
}

/** What keeps the cluster from serving every slot with synced replicas, or "" when nothing. */
async function clusterProblem(
  live: number[],
  cli: (port: number, ...args: string[]) => Promise<string>,
): Promise<string> {
  for (const port of live) {
    const info = await cli(port, "cluster", "info");
    if (!info.includes("cluster_state:ok")) return `node ${port}: ${info.split("\n")[0]}`;
    const replication = await cli(port, "info", "replication");
    if (replication.includes("role:slave") && !replication.includes("master_link_status:up")) {
      return `replica ${port} is not in sync yet`;
    }
  }
  return "";
}

/** `count` ports below 55535 free now, as is each port + 10000 (the cluster bus port). */
function freeClusterPorts(count: number): number[] {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 20_000 + Math.floor(Math.random() * 35_000);
    if (ports.includes(port) || ports.includes(port + 10_000) || ports.includes(port - 10_000)) {
      continue;
    }
    if (canListen(port) && canListen(port + 10_000)) ports.push(port);
  }
  return ports;
}

function canListen(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

async function waitOpen(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!await tcpOpen("127.0.0.1", port)) {
    if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function run(command: string, args: string[]): Promise<string> {
  const result = await new Deno.Command(command, { args, stdin: "null" }).output();
  const stdout = new TextDecoder().decode(result.stdout);
  if (!result.success) {
    const stderr = new TextDecoder().decode(result.stderr);
    throw new Error(`${command} ${args.join(" ")} failed: ${(stderr || stdout).trim()}`);
  }
  return stdout;
}
