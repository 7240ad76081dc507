// A private redis-server for tests that stop Redis: its own port and directory, no persistence
// (a restart comes back empty, as after a crash), never the shared instance on 6379.

import { freePort, tcpOpen } from "./services.ts";

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Kills the server at once (SIGKILL). */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
}

/** True when the redis-server binary runs. */
export async function redisServerInstalled(): Promise<boolean> {
  try {
    const command = new Deno.Command("redis-server", { args: ["--version"], stdout: "null" });
    return (await command.output()).success;
  } catch {
    return false;
  }
}

export async function startRedisServer(): Promise<RedisServer> {
  const dir = await Deno.makeTempDir({ prefix: "chat-redis-" });
  const port = freePort();
  let child: Deno.ChildProcess | null = null;

  const start = async () => {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 10_000;
    while (!await tcpOpen("127.0.0.1", port)) {
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const kill = async () => {
    const running = child;
    child = null;
    if (!running) return;
    try {
      running.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await running.status;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    async stop() {
      await kill();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
