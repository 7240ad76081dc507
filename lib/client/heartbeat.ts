// Detects a dead server: when nothing has arrived for one interval the client sends a PING;
// when nothing answers it within the timeout the connection is abandoned as lost. A server
// that is merely quiet is never disturbed more than once per interval.

import { MsgId } from "../protocol.ts";
import type { Connection } from "./connection.ts";

export interface HeartbeatOptions {
  /** Quiet time before a PING, ms. */
  intervalMs: number;
  /** How long the PING may go unanswered, ms. */
  timeoutMs: number;
}

/** Default: a PING after 30 s of quiet, the server declared dead after 10 s more. */
export const DEFAULT_HEARTBEAT: HeartbeatOptions = { intervalMs: 30_000, timeoutMs: 10_000 };

/** Watches `connection` until it closes; returns a function that stops watching earlier. */
export function watchHeartbeat(connection: Connection, options: HeartbeatOptions): () => void {
  let probing = false;
  const check = () => {
    if (probing || performance.now() - connection.lastReceivedAt < options.intervalMs) return;
    probing = true;
    connection.request({ msgid: MsgId.PING }, AbortSignal.timeout(options.timeoutMs)).then(
      () => probing = false,
      (error) => {
        probing = false;
        if (error instanceof DOMException && error.name === "TimeoutError") {
          connection.abandon(`no answer to a ping within ${options.timeoutMs / 1000} s`);
        }
      },
    );
  };
  const timer = setInterval(check, Math.max(10, Math.min(options.intervalMs, 1000) / 2));
  const stop = () => clearInterval(timer);
  connection.closed.then(stop);
  return stop;
}
