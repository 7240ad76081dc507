// Which pages may open a WebSocket (lib/origin_policy.ts), and whose address a WebSocket has
// behind a proxy (lib/http_transport.ts clientAddress).

import assert from "node:assert/strict";
import { clientAddress } from "../lib/http_transport.ts";
import { originAllowed, parseOrigin } from "../lib/origin_policy.ts";

Deno.test("origin policy: the server's own origin, listed ones, and non-browsers pass", () => {
  const listed = ["https://chat.example.com"];
  assert.equal(originAllowed(null, "127.0.0.1:8080", listed), true, "no Origin: not a browser");
  assert.equal(originAllowed("http://127.0.0.1:8080", "127.0.0.1:8080", []), true);
  assert.equal(originAllowed("http://CHAT.local:8080", "chat.local:8080", []), true);
  assert.equal(originAllowed("https://chat.example.com", "10.0.0.5:6080", listed), true);
  assert.equal(originAllowed("https://evil.example", "127.0.0.1:8080", listed), false);
  assert.equal(originAllowed("http://127.0.0.1:9999", "127.0.0.1:8080", []), false, "port");
  assert.equal(originAllowed("http://127.0.0.1:8080", null, []), false, "no Host to compare");
  assert.equal(originAllowed("null", "127.0.0.1:8080", []), false, "a sandboxed page");
});

Deno.test("origin policy: a setting is an origin, normalised as browsers send it", () => {
  assert.equal(parseOrigin("https://chat.example.com/"), "https://chat.example.com");
  assert.equal(parseOrigin("http://localhost:8080"), "http://localhost:8080");
  for (const bad of ["chat.example.com", "https://x.example/app", "ftp://x.example", "*"]) {
    assert.throws(() => parseOrigin(bad), bad);
  }
});

Deno.test("client address: X-Forwarded-For is believed only from a proxy on this machine", () => {
  const request = new Request("http://chat/ws", {
    headers: { "x-forwarded-for": "203.0.113.9, 198.51.100.7" },
  });
  const proxy = { transport: "tcp", hostname: "127.0.0.1", port: 40000 } as const;
  const remote = { transport: "tcp", hostname: "192.0.2.1", port: 40000 } as const;
  assert.deepEqual(clientAddress(request, proxy), {
    host: "198.51.100.7",
    address: "198.51.100.7",
  });
  assert.deepEqual(clientAddress(request, remote), {
    host: "192.0.2.1",
    address: "192.0.2.1:40000",
  });
  assert.deepEqual(clientAddress(new Request("http://chat/ws"), proxy), {
    host: "127.0.0.1",
    address: "127.0.0.1:40000",
  });
});
