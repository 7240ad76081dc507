// What the coordinator (bench/main.ts) asks a generator worker process (bench/load_worker.ts)
// to do, one JSON line per command on the worker's stdin, and what the worker answers, one JSON
// line on its stdout. Clients are referred to by their index in the worker's current set.

import type { Frame } from "../lib/protocol.ts";
import type { HistogramData } from "./stats.ts";

/** A measurement phase: traffic starts at once; only the window after the warm-up counts. */
export interface Timing {
  warmupMs: number;
  measureMs: number;
  /** After the window, how long in-flight work may take before it counts as an error. */
  drainMs: number;
}

/** Connects `count` clients in batches; with `login`, client k logs in as `login.ids[k]`. */
export interface OpenCommand {
  op: "open";
  port: number;
  count: number;
  batch: number;
  /** `password: null` logs in to the echo relay (which only binds the id). */
  login: { ids: number[]; password: string | null; receipts: boolean } | null;
}

/** Two clients playing ping-pong: a sends to b; b's receipt triggers b's send to a, and so on. */
export interface PairSpec {
  a: number;
  b: number;
  /** The frame a sends (without `msg`), e.g. {msgid: 6, toid} or {to} for the relay. */
  aToB: Frame;
  bToA: Frame;
}

/** Closed loop, window 1 per pair. `acked`: every send is a request whose ACK must be errno 0. */
export interface PairsCommand {
  op: "pairs";
  pairs: PairSpec[];
  acked: boolean;
  /** Pushes are acknowledged with RECEIPTs, batched as the project's client does (receipts on). */
  receipts: boolean;
  /**
   * Paced: a pair's messages are due `intervalMs` apart, each sent when due or, if later, when
   * the previous one arrived, and its latency counts from when it was due. null: each is sent as
   * soon as the previous one arrived.
   */
  intervalMs: number | null;
  timing: Timing;
}

/** One sender keeping `window` messages in flight; one is done when every recipient has it. */
export interface FanoutCommand {
  op: "fanout";
  sender: number;
  recipients: number[];
  frame: Frame;
  window: number;
  acked: boolean;
  timing: Timing;
}

/**
 * Every client k repeats `requests[k]` (then `followUp`, unmeasured) back to back; a reply
 * needs errno 0. With `namePrefix`, each request gets a fresh `name`; ids in replies are kept.
 */
export interface RequestsCommand {
  op: "requests";
  requests: Frame[];
  followUp: Frame | null;
  namePrefix: string | null;
  timing: Timing;
}

/**
 * Scenario 8: the clients `senders` each send user `toid` a `msgChars`-character message every
 * `intervalMs`, whatever their ACKs do (an open loop: a slow ACK delays no later send), and a
 * latency is the time from when a message was due to its ACK. Client `reader` is `toid`'s
 * connection: it reads on, or with `readerReads: false` stops reading for the phase; then, after
 * the phase, it reads again to see whether the server cut it off (see SlowReaderReport).
 */
export interface SlowReaderCommand {
  op: "slow-reader";
  senders: number[];
  toid: number;
  reader: number;
  readerReads: boolean;
  msgChars: number;
  intervalMs: number;
  timing: Timing;
}

export interface CloseCommand {
  op: "close";
}

export type Command =
  | OpenCommand
  | PairsCommand
  | FanoutCommand
  | RequestsCommand
  | SlowReaderCommand
  | CloseCommand;

/** What one worker measured in one phase. */
export interface PhaseResult {
  /** Deliveries (or completed requests) inside the measurement window. */
  completed: number;
  windowMs: number;
  histogram: HistogramData;
  errors: number;
  /** The first few problems, for the log. */
  problems: string[];
}

export interface WorkerReport {
  phase: PhaseResult;
  /** open: the node each client logged in to. */
  nodes: string[];
  /** requests with namePrefix: the ids the server assigned. */
  ids: number[];
  /** slow-reader: what became of the reader. */
  reader?: SlowReaderReport;
}

/** The reader of a slow-reader phase. */
export interface SlowReaderReport {
  /** Pushes it read during the phase (and, if it stopped reading, once it read again). */
  pushes: number;
  /**
   * It stopped reading and, when it read again after the phase, found its connection closed by
   * the server (its outbound queue passed the cap) rather than still open.
   */
  cutOff: boolean;
}

export type WorkerReply = { ok: true; report: WorkerReport } | { ok: false; error: string };
