// Starts a private nginx TCP load balancer for tests: its own config, pid and logs in a temp
// directory, on a free port, in front of the given upstream ports. Never touches the system one.

import { freePort, tcpOpen } from "./services.ts";

const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

export interface NginxProcess {
  port: number;
  stop(): Promise<void>;
}

/** True when nginx and its stream module are installed. */
export async function nginxInstalled(): Promise<boolean> {
  try {
    await Deno.stat(STREAM_MODULE);
    const { success } = await new Deno.Command("nginx", { args: ["-v"], stderr: "null" }).output();
    return success;
  } catch {
    return false;
  }
}

export function nginxConfig(listenPort: number, upstreamPorts: number[], prefix: string): string {
  const servers = upstreamPorts
    .map((port) => `    server 127.0.0.1:${port} max_fails=1 fail_timeout=2s;`)
    .join("\n");
  return `load_module ${STREAM_MODULE};
daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
stream {
  upstream chat {
    least_conn;
${servers}
  }
  server {
    listen 127.0.0.1:${listenPort};
    proxy_pass chat;
    proxy_connect_timeout 1s;
    proxy_next_upstream on;
    proxy_timeout 1h;
    tcp_nodelay on;
  }
}
`;
}

export async function startNginx(upstreamPorts: number[]): Promise<NginxProcess> {
  const prefix = await Deno.makeTempDir({ prefix: "chat-nginx-" });
  const port = freePort();
  const config = `${prefix}/nginx.conf`;
  await Deno.writeTextFile(config, nginxConfig(port, upstreamPorts, prefix));
  const child = new Deno.Command("nginx", {
    args: ["-p", prefix, "-c", config],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let errors = "";
  const drained = (async () => {
    while (true) {
      const { value, done } = await stderr.read();
      if (done) return;
      errors += value;
    }
  })();
  const deadline = Date.now() + 10_000;
  while (!await tcpOpen("127.0.0.1", port)) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      await drained;
      throw new Error(`nginx did not start: ${errors}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
      await drained;
      await Deno.remove(prefix, { recursive: true });
    },
  };
}
