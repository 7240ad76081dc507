// Starts a local demo cluster: two chatservers (6000 and 6002, their web clients on 6080 and
// 6082) sharing MySQL and Redis, and the top-level nginx.conf balancing them from a temporary
// prefix: terminal clients on port 8000, browsers on http://127.0.0.1:8080/. Ctrl-C stops it all.
// A chatserver that dies (try `kill -9`) is started again after RESTART_DELAY_MS, as systemd's
// Restart=on-failure would; meanwhile nginx sends new connections to the other one.
//
//   deno task cluster [--db mysql://root@127.0.0.1:3306/chat] [--redis redis://127.0.0.1:6379]
//   deno task cluster --redis-cluster 127.0.0.1:7000,127.0.0.1:7001   (a Redis Cluster instead)
//
// Bad arguments are one line on stderr and exit 2, checked by the server's own parser before
// anything starts.

import { parseArgs } from "node:util";
import { ConfigError, parseServerArgs } from "../lib/config.ts";

const root = new URL("..", import.meta.url).pathname;
const RESTART_DELAY_MS = 3_000;
const children = new Map<string, Deno.ChildProcess>();

function fail(message: string): never {
  console.error(`cluster: ${message}`);
  Deno.exit(1);
}

/** Runs a child; when it exits on its own, `restart` says whether to start it again. */
function spawn(name: string, command: string, args: string[], restart: boolean): void {
  const process = new Deno.Command(command, { args, cwd: root, stdin: "null" }).spawn();
  children.set(name, process);
  process.status.then((status) => {
    if (stopping) return;
    if (!restart) {
      console.error(`cluster: ${name} exited with code ${status.code}; stopping everything`);
      return void stopAll(1);
    }
    const delay = RESTART_DELAY_MS / 1000;
    console.error(`cluster: ${name} exited with code ${status.code}; restarting it in ${delay} s`);
    setTimeout(() => stopping || spawn(name, command, args, restart), RESTART_DELAY_MS);
  });
}

async function waitForPort(port: number, name: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  fail(`${name} did not start listening on ${port}`);
}

let stopping = false;
async function stopAll(code: number): Promise<never> {
  stopping = true;
  for (const process of children.values()) {
    try {
      process.kill("SIGTERM");
    } catch {
      // Already exited.
    }
  }
  await Promise.all([...children.values()].map((process) => process.status));
  Deno.exit(code);
}

/** The chatservers' --db and cluster flags from this script's arguments; exits 2 on bad ones. */
function backendArgs(): string[] {
  try {
    const { values } = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        db: { type: "string", default: "mysql://root@127.0.0.1:3306/chat" },
        redis: { type: "string" },
        "redis-cluster": { type: "string" },
      },
    });
    const args = ["--db", values.db];
    if (values.redis !== undefined) args.push("--redis", values.redis);
    if (values["redis-cluster"] !== undefined) {
      args.push("--redis-cluster", values["redis-cluster"]);
    }
    if (args.length === 2) args.push("--redis", "redis://127.0.0.1:6379");
    parseServerArgs(args, () => undefined, () => "localhost");
    return args;
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof TypeError)) throw error;
    console.error(`cluster: ${error.message}`);
    Deno.exit(2);
  }
}

const serverArgs = backendArgs();

const prefix = await Deno.makeTempDir({ prefix: "chat-cluster-" });
const config = (await Deno.readTextFile(`${root}/nginx.conf`))
  .replace(/^pid .*$/m, `pid ${prefix}/nginx.pid;`);
await Deno.writeTextFile(`${prefix}/nginx.conf`, config);

for (const port of [6000, 6002]) {
  spawn(`chatserver ${port}`, Deno.execPath(), [
    "run",
    "-A",
    "server.ts",
    String(port),
    "--http-port",
    String(port + 80),
    ...serverArgs,
  ], true);
  await waitForPort(port, `chatserver ${port}`);
}
spawn("nginx", "nginx", ["-p", prefix, "-c", `${prefix}/nginx.conf`, "-g", "daemon off;"], false);
await waitForPort(8000, "nginx");
await waitForPort(8080, "nginx (http)");
console.log("cluster: nginx on 8000 → chatservers on 6000 and 6002. Ctrl-C stops everything.");
console.log("cluster: connect with  deno task client 127.0.0.1 8000");
console.log("cluster: or open  http://127.0.0.1:8080/  (nginx → the web clients on 6080 and 6082)");

Deno.addSignalListener("SIGINT", () => void stopAll(0));
Deno.addSignalListener("SIGTERM", () => void stopAll(0));
