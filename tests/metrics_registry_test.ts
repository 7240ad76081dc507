// PrometheusMetrics without a server: every metric the operators were promised is declared, each
// ServerMetrics call moves the sample it should (and only that), and labels stay bounded.

import assert from "node:assert/strict";
import { StorageError } from "../lib/errors.ts";
import { LATENCY_BUCKETS, PrometheusMetrics } from "../lib/metrics.ts";
import { MsgId } from "../lib/protocol.ts";
import { metricNames, sampleValue } from "./support/metrics_scrape.ts";

const fresh = () => new PrometheusMetrics({ version: "9.9.9", node: "node-a" });

Deno.test("metrics registry: declares every promised metric in the text format", async () => {
  const metrics = fresh();
  const text = await metrics.render();
  assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
  assert.deepEqual(metricNames(text).sort(), [
    "chat_accept_failures_total",
    "chat_backend_errors_total",
    "chat_build_info",
    "chat_connections_open",
    "chat_delivery_latency_seconds",
    "chat_error_responses_total",
    "chat_frames_received_total",
    "chat_frames_sent_total",
    "chat_login_failures_total",
    "chat_messages_stored_total",
    "chat_offline_deliveries_total",
    "chat_pending_dropped_total",
    "chat_process_resident_memory_bytes",
    "chat_pubsub_envelopes_received_total",
    "chat_pubsub_lag_seconds",
    "chat_rate_limited_requests_total",
    "chat_redelivered_total",
    "chat_redelivery_sweeps_total",
    "chat_users_logged_in",
  ]);
  assert.equal(sampleValue(text, "chat_build_info", { version: "9.9.9", node: "node-a" }), 1);
  assert.equal(sampleValue(text, "chat_backend_errors_total", { backend: "store" }), 0);
  assert.equal(sampleValue(text, "chat_backend_errors_total", { backend: "cluster" }), 0);
  assert.ok(sampleValue(text, "chat_process_resident_memory_bytes")! > 0);
});

Deno.test("metrics registry: gauges read the server's numbers at scrape time", async () => {
  const metrics = fresh();
  let connections = 3;
  metrics.track({ connections: () => connections, usersLoggedIn: () => 2 });
  let text = await metrics.render();
  assert.equal(sampleValue(text, "chat_connections_open"), 3);
  assert.equal(sampleValue(text, "chat_users_logged_in"), 2);
  connections = 1;
  text = await metrics.render();
  assert.equal(sampleValue(text, "chat_connections_open"), 1);
});

Deno.test("metrics registry: frames are counted by msgid, with bounded labels", async () => {
  const metrics = fresh();
  metrics.frameIn({ kind: "frame", frame: { msgid: MsgId.LOGIN } });
  metrics.frameIn({ kind: "frame", frame: { msgid: MsgId.LOGIN } });
  metrics.frameIn({ kind: "frame", frame: { msgid: 123456 } });
  metrics.frameIn({ kind: "frame", frame: { msgid: "1" } });
  metrics.frameIn({ kind: "invalid", reason: "not JSON" });
  metrics.frameIn({ kind: "oversize", length: 1 << 30 });
  metrics.frameOut({ msgid: MsgId.LOGIN_ACK, errno: 0 });
  metrics.frameOut({ msgid: MsgId.ONE_CHAT, mid: 1 });
  metrics.frameOut({ msgid: MsgId.ACK, errno: 5 });
  metrics.frameOut({ msgid: MsgId.ERROR, errno: 3 });
  metrics.frameOut({ msgid: MsgId.ERROR, errno: 3 });
  const text = await metrics.render();
  const received = (msgid: string) => sampleValue(text, "chat_frames_received_total", { msgid });
  const sent = (msgid: string) => sampleValue(text, "chat_frames_sent_total", { msgid });
  assert.deepEqual([received("1"), received("unknown"), received("invalid")], [2, 2, 2]);
  assert.deepEqual([sent("2"), sent("6"), sent("11"), sent("12")], [1, 1, 1, 2]);
  const errors = (errno: string) => sampleValue(text, "chat_error_responses_total", { errno });
  assert.deepEqual([errors("0"), errors("3"), errors("5")], [undefined, 2, 1]);
});

Deno.test("metrics registry: latency and lag land in their buckets", async () => {
  const metrics = fresh();
  metrics.delivered(0.003);
  metrics.delivered(-0.5); // a clock step backwards counts as zero
  metrics.delivered(Number.NaN); // an unparsable time is not observed
  metrics.envelopeReceived(0.02);
  metrics.envelopeReceived(null); // from a server that does not stamp envelopes
  const text = await metrics.render();
  const latency = (le: string) => sampleValue(text, "chat_delivery_latency_seconds_bucket", { le });
  assert.equal(sampleValue(text, "chat_delivery_latency_seconds_count"), 2);
  assert.equal(sampleValue(text, "chat_delivery_latency_seconds_sum"), 0.003);
  assert.deepEqual([latency("0.0005"), latency("0.0025"), latency("0.005")], [1, 1, 2]);
  assert.equal(latency("+Inf"), 2);
  assert.equal(sampleValue(text, "chat_pubsub_envelopes_received_total"), 2);
  assert.equal(sampleValue(text, "chat_pubsub_lag_seconds_count"), 1);
  assert.equal(sampleValue(text, "chat_pubsub_lag_seconds_bucket", { le: "0.01" }), 0);
  assert.equal(sampleValue(text, "chat_pubsub_lag_seconds_bucket", { le: "0.025" }), 1);
  const declared = [...text.matchAll(/chat_pubsub_lag_seconds_bucket\{le="([^"]+)"\}/g)];
  assert.deepEqual(declared.map((m) => m[1]), [...LATENCY_BUCKETS.map(String), "+Inf"]);
});

Deno.test("metrics registry: stored, pending, backend and refusal counters move", async () => {
  const metrics = fresh();
  metrics.messageStored();
  metrics.messageStored();
  metrics.leftPending(3);
  metrics.leftPending(0);
  metrics.pendingDropped(4);
  metrics.pendingDropped(0);
  metrics.backendError(new StorageError("MySQL query failed"));
  metrics.backendError(new StorageError("Redis publish failed", { backend: "cluster" }));
  metrics.backendError(new StorageError("Redis locate failed", { backend: "cluster" }));
  metrics.backendError(new Error("a bug, not a backend"));
  metrics.loginFailed();
  metrics.rateLimited();
  metrics.rateLimited();
  metrics.acceptFailed();
  const text = await metrics.render();
  assert.equal(sampleValue(text, "chat_messages_stored_total"), 2);
  assert.equal(sampleValue(text, "chat_offline_deliveries_total"), 3);
  assert.equal(sampleValue(text, "chat_pending_dropped_total"), 4);
  assert.equal(sampleValue(text, "chat_backend_errors_total", { backend: "store" }), 1);
  assert.equal(sampleValue(text, "chat_backend_errors_total", { backend: "cluster" }), 2);
  assert.equal(sampleValue(text, "chat_login_failures_total"), 1);
  assert.equal(sampleValue(text, "chat_rate_limited_requests_total"), 2);
  assert.equal(sampleValue(text, "chat_accept_failures_total"), 1);
});

Deno.test("metrics registry: two servers in one process keep separate counts", async () => {
  const a = fresh();
  const b = fresh();
  a.messageStored();
  assert.equal(sampleValue(await a.render(), "chat_messages_stored_total"), 1);
  assert.equal(sampleValue(await b.render(), "chat_messages_stored_total"), 0);
});
