// What the server counts, for Prometheus: the narrow ServerMetrics interface the chat core calls
// (the core imports only its type, so it runs without it), and PrometheusMetrics, which keeps
// them in a prom-client registry and renders the text exposition format for /metrics.
//
// prom-client (npm) works under Deno: it type-checks, needs no permissions, and loads node's
// `cluster` module only for its AggregatorRegistry, which this server does not use.

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { StorageError } from "./errors.ts";
import { type Frame, MsgId } from "./protocol.ts";
import type { Inbound } from "./session.ts";

/** What the chat core reports as it works. Every method is cheap and never throws. */
export interface ServerMetrics {
  /** A frame arrived: a request, or bytes that were not a valid frame. */
  frameIn(decoded: Inbound): void;
  /** A frame was queued for a client; a non-zero `errno` also counts as an error response. */
  frameOut(frame: Frame): void;
  /** A live push was queued on its recipient's connection this long after its server time. */
  delivered(latencySeconds: number): void;
  /** A chat message was stored (not a retried duplicate). */
  messageStored(): void;
  /** The per-user cap dropped this many pending deliveries (learned at the user's login). */
  pendingDropped(count: number): void;
  /** Counts a StorageError by its backend; any other error is ignored. */
  backendError(error: unknown): void;
  /**
   * Another server published an envelope of pushes to this one, `lagSeconds` after publishing
   * it (null when the envelope carries no publish time).
   */
  envelopeReceived(lagSeconds: number | null): void;
  /**
   * This many recipients of a push were not reached live (offline, or their server or the bus
   * unreachable); the stored message waits for their next login.
   */
  leftPending(count: number): void;
  /** A login was refused for a wrong id/name or password. */
  loginFailed(): void;
  /** A request was refused by the per-connection rate limit. */
  rateLimited(): void;
  /** Accepting a connection failed (most often: the process is at its open-files limit). */
  acceptFailed(): void;
  /**
   * A sweep after a Redis recovery ended, having pushed this many pending deliveries again (to
   * sessions here, or forwarded to other servers).
   */
  redelivered(count: number): void;
}

/** Live numbers read at scrape time. */
export interface ServerGauges {
  connections(): number;
  usersLoggedIn(): number;
}

/** Delivery latency and pub/sub lag buckets, seconds: half a millisecond to five seconds. */
export const LATENCY_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];

const MSGID_LABELS = new Set<unknown>(Object.values(MsgId));

/** A msgid as a label: the known ones by number, anything else as "unknown" (bounded labels). */
function msgidLabel(msgid: unknown): string {
  return MSGID_LABELS.has(msgid) ? String(msgid) : "unknown";
}

export class PrometheusMetrics implements ServerMetrics {
  readonly registry = new Registry();
  #gauges: ServerGauges = { connections: () => 0, usersLoggedIn: () => 0 };
  readonly #framesIn: Counter<"msgid">;
  readonly #framesOut: Counter<"msgid">;
  readonly #errors: Counter<"errno">;
  readonly #latency: Histogram;
  readonly #stored: Counter;
  readonly #dropped: Counter;
  readonly #backendErrors: Counter<"backend">;
  readonly #envelopes: Counter;
  readonly #pubsubLag: Histogram;
  readonly #leftPending: Counter;
  readonly #loginFailures: Counter;
  readonly #rateLimited: Counter;
  readonly #acceptFailures: Counter;
  readonly #sweeps: Counter;
  readonly #redelivered: Counter;

  constructor(build: { version: string; node: string }) {
    const registers = [this.registry];
    const gauges = () => this.#gauges;
    new Gauge({
      name: "chat_build_info",
      help: "Always 1; labels give the server version and cluster node id.",
      labelNames: ["version", "node"],
      registers,
    }).set(build, 1);
    new Gauge({
      name: "chat_connections_open",
      help: "Client TCP connections open on this server.",
      registers,
      collect() {
        this.set(gauges().connections());
      },
    });
    new Gauge({
      name: "chat_users_logged_in",
      help: "Users logged in on this server.",
      registers,
      collect() {
        this.set(gauges().usersLoggedIn());
      },
    });
    new Gauge({
      name: "chat_process_resident_memory_bytes",
      help: "Resident set size of the server process, bytes.",
      registers,
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
    this.#framesIn = new Counter({
      name: "chat_frames_received_total",
      help: "Frames received from clients, by msgid (unknown: not a known msgid; " +
        "invalid: undecodable or oversize).",
      labelNames: ["msgid"],
      registers,
    });
    this.#framesOut = new Counter({
      name: "chat_frames_sent_total",
      help: "Frames queued for clients (responses and pushes), by msgid.",
      labelNames: ["msgid"],
      registers,
    });
    this.#errors = new Counter({
      name: "chat_error_responses_total",
      help: "Frames sent to clients with a non-zero errno, by errno.",
      labelNames: ["errno"],
      registers,
    });
    this.#latency = new Histogram({
      name: "chat_delivery_latency_seconds",
      help: "Seconds from a message's server time to its push being queued on the " +
        "recipient's connection, on the recipient's server.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#stored = new Counter({
      name: "chat_messages_stored_total",
      help: "Chat messages stored (one-to-one and group; retried duplicates not counted).",
      registers,
    });
    this.#dropped = new Counter({
      name: "chat_pending_dropped_total",
      help:
        "Pending deliveries dropped by the per-user cap, counted at the recipient's next login.",
      registers,
    });
    this.#backendErrors = new Counter({
      name: "chat_backend_errors_total",
      help: "Storage errors seen while serving, by backend (store: SQLite/MySQL, cluster: Redis).",
      labelNames: ["backend"],
      registers,
    });
    for (const backend of ["store", "cluster"]) this.#backendErrors.inc({ backend }, 0);
    this.#envelopes = new Counter({
      name: "chat_pubsub_envelopes_received_total",
      help: "Envelopes of pushes other servers published to this one.",
      registers,
    });
    this.#pubsubLag = new Histogram({
      name: "chat_pubsub_lag_seconds",
      help: "Seconds from another server publishing an envelope to this server receiving it " +
        "(across hosts, includes their clock difference).",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#leftPending = new Counter({
      name: "chat_offline_deliveries_total",
      help: "Recipients of a message not reached live (offline, or their server or Redis " +
        "unreachable); the stored message waits for their next login, or for the sweep " +
        "after Redis recovers.",
      registers,
    });
    this.#loginFailures = new Counter({
      name: "chat_login_failures_total",
      help: "Logins refused for a wrong id/name or password.",
      registers,
    });
    this.#rateLimited = new Counter({
      name: "chat_rate_limited_requests_total",
      help: "Requests refused by the per-connection rate limit.",
      registers,
    });
    this.#acceptFailures = new Counter({
      name: "chat_accept_failures_total",
      help: "Failed accepts of client connections (most often the open-files limit); the " +
        "server pauses new connections 5 ms to 1 s between tries until one is accepted.",
      registers,
    });
    this.#sweeps = new Counter({
      name: "chat_redelivery_sweeps_total",
      help: "Sweeps after a Redis recovery that pushed pending messages again (retries included).",
      registers,
    });
    this.#redelivered = new Counter({
      name: "chat_redelivered_total",
      help: "Pending deliveries pushed again by those sweeps (clients drop what they already " +
        "have by mid).",
      registers,
    });
  }

  /** Where the connection and logged-in gauges read their values at scrape time. */
  track(gauges: ServerGauges): void {
    this.#gauges = gauges;
  }

  /** The Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text exposition format (version 0.0.4). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  frameIn(decoded: Inbound): void {
    const msgid = decoded.kind === "frame" ? msgidLabel(decoded.frame.msgid) : "invalid";
    this.#framesIn.inc({ msgid });
  }

  frameOut(frame: Frame): void {
    this.#framesOut.inc({ msgid: msgidLabel(frame.msgid) });
    const errno = frame.errno;
    if (typeof errno === "number" && errno !== 0) this.#errors.inc({ errno: String(errno) });
  }

  delivered(latencySeconds: number): void {
    if (Number.isFinite(latencySeconds)) this.#latency.observe(Math.max(0, latencySeconds));
  }

  messageStored(): void {
    this.#stored.inc();
  }

  pendingDropped(count: number): void {
    if (count > 0) this.#dropped.inc(count);
  }

  backendError(error: unknown): void {
    if (error instanceof StorageError) this.#backendErrors.inc({ backend: error.backend });
  }

  envelopeReceived(lagSeconds: number | null): void {
    this.#envelopes.inc();
    if (lagSeconds !== null && Number.isFinite(lagSeconds)) {
      this.#pubsubLag.observe(Math.max(0, lagSeconds));
    }
  }

  leftPending(count: number): void {
    if (count > 0) this.#leftPending.inc(count);
  }

  loginFailed(): void {
    this.#loginFailures.inc();
  }

  rateLimited(): void {
    this.#rateLimited.inc();
  }

  acceptFailed(): void {
    this.#acceptFailures.inc();
  }

  redelivered(count: number): void {
    this.#sweeps.inc();
    if (count > 0) this.#redelivered.inc(count);
  }
}
