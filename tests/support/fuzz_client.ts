// Drives hostile chunks (see fuzz_frames.ts) into the server over one connection at a time,
// reconnecting whenever the server closes it or the fuzzer hangs up, and checks that whatever
// the server sends back is still a well-formed frame.

import { FrameDecoder } from "../../lib/codec.ts";
import { fuzzChunk, type FuzzTargets } from "./fuzz_frames.ts";
import type { Prng } from "./prng.ts";

export interface FuzzStats {
  /** Chunks written, by kind. */
  byKind: Record<string, number>;
  chunks: number;
  /** Frames written, whole or not (a burst chunk holds many). */
  frames: number;
  bytes: number;
  connections: number;
  /** Frames the server sent back. */
  responses: number;
  /** Responses that were not well-formed (should stay empty). */
  badResponses: string[];
}

export function emptyStats(): FuzzStats {
  return {
    byKind: {},
    chunks: 0,
    frames: 0,
    bytes: 0,
    connections: 0,
    responses: 0,
    badResponses: [],
  };
}

const SPLIT_LIMIT = 4096;
/** Before hanging up, wait until the server has been silent this long (at most QUIET_MAX_MS). */
const QUIET_MS = 30;
const QUIET_MAX_MS = 500;

/** Writes `chunks` fuzz chunks to the server at `port`, over as many connections as it takes. */
export async function fuzzConnection(
  port: number,
  prng: Prng,
  targets: FuzzTargets,
  maxFrame: number,
  chunks: number,
  stats: FuzzStats,
): Promise<void> {
  let conn: Deno.TcpConn | null = null;
  let reading: Promise<void> = Promise.resolve();
  const heard = { at: 0 };
  /** Lets the server answer what it was sent, then closes. */
  const hangUp = async (open: Deno.TcpConn) => {
    const since = Date.now();
    heard.at = since;
    while (Date.now() - heard.at < QUIET_MS && Date.now() - since < QUIET_MAX_MS) {
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS / 3));
    }
    closeQuietly(open);
    await reading;
  };
  for (let n = 0; n < chunks; n++) {
    if (!conn) {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.setNoDelay(true);
      stats.connections++;
      reading = readResponses(conn, stats, heard);
    }
    const chunk = fuzzChunk(prng, targets, maxFrame);
    stats.byKind[chunk.kind] = (stats.byKind[chunk.kind] ?? 0) + 1;
    stats.chunks++;
    stats.frames += chunk.frames;
    stats.bytes += chunk.bytes.length;
    try {
      if (chunk.split && chunk.bytes.length <= SPLIT_LIMIT) {
        for (let at = 0; at < chunk.bytes.length;) {
          const end = Math.min(chunk.bytes.length, at + prng.int(1, 64));
          await writeAll(conn, chunk.bytes.subarray(at, end));
          at = end;
        }
      } else {
        await writeAll(conn, chunk.bytes);
      }
    } catch {
      // The server closed the connection (after an oversize header, say): start another.
      chunk.hangUp = true;
    }
    if (chunk.hangUp) {
      await hangUp(conn);
      conn = null;
    }
  }
  if (conn) await hangUp(conn);
}

async function readResponses(
  conn: Deno.Conn,
  stats: FuzzStats,
  heard: { at: number },
): Promise<void> {
  const decoder = new FrameDecoder(64 * 1024 * 1024);
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const count = await conn.read(buffer);
      if (count === null) return;
      heard.at = Date.now();
      for (const decoded of decoder.push(buffer.subarray(0, count))) {
        stats.responses++;
        const problem = decoded.kind === "frame"
          ? responseProblem(decoded.frame)
          : `undecodable: ${JSON.stringify(decoded)}`;
        if (problem && stats.badResponses.length < 20) stats.badResponses.push(problem);
      }
    }
  } catch {
    // Reset by the server, or closed by us.
  }
}

/** What is wrong with a frame the server sent, if anything. */
function responseProblem(frame: Record<string, unknown>): string | null {
  const { msgid, errno } = frame;
  const text = () => JSON.stringify(frame).slice(0, 200);
  if (!Number.isSafeInteger(msgid)) return `no integer msgid: ${text()}`;
  const answers = [2, 5, 11, 12].includes(msgid as number);
  if (
    answers && !(Number.isSafeInteger(errno) && (errno as number) >= 0 && (errno as number) <= 9)
  ) {
    return `no errno 0-9: ${text()}`;
  }
  if (answers && errno !== 0 && typeof frame.errmsg !== "string") return `no errmsg: ${text()}`;
  return null;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
