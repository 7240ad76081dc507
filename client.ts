// chatclient: the terminal client. `deno run -A client.ts <host> <port>`.
// Parses arguments, connects, runs the session, and turns any failure into one line on stderr
// and an exit code: 0 done, 1 connection failure or lost for good, 2 bad usage.

import { parseArgs } from "node:util";
import { ConnectError, ConnectionClosedError } from "./lib/client/connection.ts";
import { DEFAULT_HEARTBEAT } from "./lib/client/heartbeat.ts";
import { Link } from "./lib/client/link.ts";
import { runSession } from "./lib/client/session.ts";
import { openTerminal } from "./lib/client/terminal.ts";

const DEFAULT_RECONNECT_TIMEOUT_S = 60;

const USAGE = `usage: chatclient [options] <host> <port>

Connects to a chat server. Type at the menu to log in or register, then "help" for the
commands. With piped stdin each line is handled (and its reply awaited) before the next;
end of input logs out and exits.

options:
  --reconnect-timeout SECONDS  keep trying to reconnect this long after losing the server,
                               logging in again (default ${DEFAULT_RECONNECT_TIMEOUT_S}; 0: exit at once)
  --ping-interval SECONDS      ping a quiet server after this long; no answer within
                               min(10, SECONDS) more means it is gone (default ${
  DEFAULT_HEARTBEAT.intervalMs / 1000
})
  --tls                        speak TLS to a server started with --tls-cert, checking its
                               certificate against the system's CAs
  --tls-ca FILE                with --tls: trust the CA certificate(s) in this PEM file instead
  -h, --help                   show this help`;

class UsageError extends Error {}

interface ClientArgs {
  hostname: string;
  port: number;
  reconnectTimeoutMs: number;
  pingIntervalMs: number;
  /** With --tls: the CA certificates to trust (none given: the system's). */
  tls?: { caCerts?: string[] };
}

/** Reads the command line: null means --help. */
function parseCommandLine(args: string[]): ClientArgs | null {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        help: { type: "boolean", short: "h" },
        "reconnect-timeout": { type: "string" },
        "ping-interval": { type: "string" },
        tls: { type: "boolean" },
        "tls-ca": { type: "string" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.values.help) return null;
  const [hostname, portText, ...extra] = parsed.positionals;
  if (hostname === undefined || portText === undefined) {
    throw new UsageError("expected a host and a port");
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new UsageError(`port must be an integer from 1 to 65535, not "${portText}"`);
  }
  if (hostname === "") throw new UsageError("the host is empty");
  const reconnect = seconds(parsed.values["reconnect-timeout"], "--reconnect-timeout", 0);
  const ping = seconds(parsed.values["ping-interval"], "--ping-interval", 0.05);
  const caFile = parsed.values["tls-ca"];
  if (caFile !== undefined && !parsed.values.tls) throw new UsageError("--tls-ca needs --tls");
  return {
    hostname,
    port,
    reconnectTimeoutMs: reconnect ?? DEFAULT_RECONNECT_TIMEOUT_S * 1000,
    pingIntervalMs: ping ?? DEFAULT_HEARTBEAT.intervalMs,
    ...(parsed.values.tls
      ? { tls: caFile === undefined ? {} : { caCerts: [readCa(caFile)] } }
      : {}),
  };
}

/** The PEM text of the --tls-ca file. */
function readCa(path: string): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new UsageError(`cannot read --tls-ca ${path}: ${reason}`);
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new UsageError(`--tls-ca ${path} holds no PEM certificate`);
  }
  return text;
}

/** A duration flag in seconds (fractions allowed) as ms; undefined when not given. */
function seconds(text: string | undefined, flag: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || value < min || value > 86_400) {
    throw new UsageError(`${flag} must be a number of seconds from ${min} to 86400, not "${text}"`);
  }
  return Math.round(value * 1000);
}

/** Runs the client and returns the exit code. */
async function main(args: string[]): Promise<number> {
  const options = parseCommandLine(args);
  if (options === null) {
    console.log(USAGE);
    return 0;
  }
  const terminal = openTerminal();
  try {
    const link = await Link.open({
      hostname: options.hostname,
      port: options.port,
      tls: options.tls,
      reconnectTimeoutMs: options.reconnectTimeoutMs,
      heartbeat: {
        intervalMs: options.pingIntervalMs,
        timeoutMs: Math.min(DEFAULT_HEARTBEAT.timeoutMs, options.pingIntervalMs),
      },
      print: (text) => terminal.print(text),
    });
    try {
      await runSession(link, terminal);
    } finally {
      link.close();
    }
    return 0;
  } finally {
    terminal.close();
  }
}

function failureExitCode(error: unknown): number {
  if (error instanceof UsageError) {
    console.error(`chatclient: ${error.message} (try --help)`);
    return 2;
  }
  if (error instanceof ConnectError || error instanceof ConnectionClosedError) {
    console.error(`chatclient: ${error.message}`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  console.error(`chatclient: unexpected error: ${message.split("\n")[0]}`);
  return 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args).catch(failureExitCode));
}
