// Runs the real chatserver (server.ts) as a child process for end-to-end tests.

import { TextLineStream } from "./lines.ts";

const SERVER = new URL("../../server.ts", import.meta.url).pathname;

export interface ServerProcess {
  port: number;
  /** The web client's and WebSocket's port, when started with --http-port. */
  httpPort: number | null;
  /** The start-up line. */
  banner: string;
  process: Deno.ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Sends a signal and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Starts server.ts with `args` on a free port and waits for its start-up line. With
 * `openFilesLimit`, the server runs under that `ulimit -n` (through bash).
 */
export async function startServer(
  args: string[],
  env: Record<string, string> = {},
  { openFilesLimit }: { openFilesLimit?: number } = {},
): Promise<ServerProcess> {
  const deno = [
    Deno.execPath(),
    "run",
    "-A",
    SERVER,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    ...args,
  ];
  const [command, ...commandArgs] = openFilesLimit === undefined
    ? deno
    : ["bash", "-c", `ulimit -n ${openFilesLimit} && exec "$@"`, "bash", ...deno];
  const process = new Deno.Command(command, {
    args: commandArgs,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderrText = "";
  const stderrDone = (async () => {
    for await (const chunk of process.stderr.pipeThrough(new TextDecoderStream())) {
      stderrText += chunk;
    }
  })();
  const lines = process.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TextLineStream(),
  );
  const reader = lines.getReader();
  const first = await reader.read();
  // Keep draining stdout so the child never blocks on a full pipe.
  const stdoutDone = (async () => {
    while (!(await reader.read()).done);
  })();
  const banner = first.value ?? "";
  const match = banner.match(/listening on [^ ]+:(\d+) /);
  if (!match) {
    await stdoutDone;
    await stderrDone;
    const status = await process.status;
    throw new Error(`server did not start (exit ${status.code}): ${stderrText.trim()}`);
  }
  let exited: Promise<Deno.CommandStatus> | undefined;
  return {
    port: Number(match[1]),
    httpPort: Number(banner.match(/ http=https?:\/\/[^ ]+:(\d+)\//)?.[1]) || null,
    banner,
    process,
    stderr: () => stderrText,
    stop(signal: Deno.Signal = "SIGTERM") {
      if (!exited) {
        try {
          process.kill(signal);
        } catch {
          // Already exited.
        }
        exited = Promise.all([process.status, stdoutDone, stderrDone]).then(([status]) => status);
      }
      return exited;
    },
  };
}
