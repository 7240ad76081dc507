// The admin HTTP endpoints without sockets: adminHandler's routes and statuses, and
// backendHealth's verdicts (including a backend that never answers).

import assert from "node:assert/strict";
import { adminHandler, backendHealth } from "../lib/admin_http.ts";
import { PrometheusMetrics } from "../lib/metrics.ts";
import { sampleValue } from "./support/metrics_scrape.ts";

const get = (path: string, method = "GET") =>
  new Request(`http://admin.test${path}`, { method, body: method === "POST" ? "x" : undefined });

const fakeMetrics = {
  contentType: "text/plain; version=0.0.4; charset=utf-8",
  render: () => Promise.resolve("chat_up 1\n"),
};

Deno.test("admin http: /metrics serves the registry's text with its content type", async () => {
  const metrics = new PrometheusMetrics({ version: "1.2.3", node: "n1" });
  metrics.messageStored();
  const handler = adminHandler({ metrics, health: () => Promise.resolve(null) });
  const response = await handler(get("/metrics"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), metrics.contentType);
  const text = await response.text();
  assert.equal(sampleValue(text, "chat_messages_stored_total"), 1);
  assert.equal(sampleValue(text, "chat_build_info", { version: "1.2.3", node: "n1" }), 1);
});

Deno.test("admin http: /healthz is 200 ok when healthy and 503 with the reason when not", async () => {
  let problem: string | null = null;
  const handler = adminHandler({ metrics: fakeMetrics, health: () => Promise.resolve(problem) });
  const healthy = await handler(get("/healthz"));
  assert.deepEqual([healthy.status, await healthy.text()], [200, "ok"]);
  problem = "not answering: cluster presence";
  const sick = await handler(get("/healthz"));
  assert.deepEqual([sick.status, await sick.text()], [503, "not answering: cluster presence"]);
  assert.match(sick.headers.get("content-type") ?? "", /^text\/plain/);
});

Deno.test("admin http: other paths and methods are 404 and never run the checks", async () => {
  let calls = 0;
  const counted = <T>(value: T) => () => {
    calls++;
    return Promise.resolve(value);
  };
  const handler = adminHandler({
    metrics: { ...fakeMetrics, render: counted("") },
    health: counted(null),
  });
  for (const request of [get("/"), get("/metrics/x"), get("/health"), get("/metrics", "POST")]) {
    const response = await handler(request);
    assert.equal(response.status, 404, `${request.method} ${request.url}`);
    await response.body?.cancel();
  }
  assert.equal(calls, 0);
  assert.equal((await handler(get("/metrics?x=1"))).status, 200);
});

const answering = (value: boolean) => ({ ping: () => Promise.resolve(value) });
const failing = { ping: () => Promise.reject(new Error("ECONNREFUSED")) };
const silent = { ping: () => new Promise<boolean>(() => {}) };

Deno.test("admin http: backendHealth names every backend that does not answer", async () => {
  const check = (store: typeof silent, presence: typeof silent) =>
    backendHealth({ store, presence }, 50)();
  assert.equal(await check(answering(true), answering(true)), null);
  assert.equal(await check(answering(false), answering(true)), "not answering: store");
  assert.equal(await check(answering(true), failing), "not answering: cluster presence");
  assert.equal(await check(failing, answering(false)), "not answering: store, cluster presence");
  assert.equal(await check(answering(true), silent), "not answering: cluster presence");
});

Deno.test("admin http: a health check follows its backend going away and returning", async () => {
  let redisUp = true;
  const handler = adminHandler({
    metrics: fakeMetrics,
    health: backendHealth({
      store: answering(true),
      presence: { ping: () => redisUp ? Promise.resolve(true) : Promise.reject(new Error("down")) },
    }),
  });
  const status = async () => {
    const response = await handler(get("/healthz"));
    await response.body?.cancel();
    return response.status;
  };
  assert.equal(await status(), 200);
  redisUp = false;
  assert.equal(await status(), 503);
  redisUp = true;
  assert.equal(await status(), 200);
});
