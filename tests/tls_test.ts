// The chat port over TLS, with a throwaway CA and certificate made by openssl at run time: the
// real client chats through it, an untrusted certificate is one line and exit 1, plaintext and
// garbage clients are dropped without harm to anyone else, and SIGHUP reloads the certificate.

import assert from "node:assert/strict";
import {
  makeCertificates,
  opensslAvailable,
  type TestCertificates,
} from "./support/certificates.ts";
import { startServer } from "./support/server_process.ts";
import { WireClient } from "./support/wire_client.ts";

const CLIENT = new URL("../client.ts", import.meta.url).pathname;
const SERVER = new URL("../server.ts", import.meta.url).pathname;
const ignore = !await opensslAvailable();

function tlsTest(name: string, body: (certs: TestCertificates) => Promise<void>) {
  Deno.test({
    name: `tls: ${name}`,
    ignore,
    async fn() {
      const certs = await makeCertificates();
      try {
        await body(certs);
      } finally {
        await certs.remove();
      }
    },
  });
}

function tlsServer(certs: TestCertificates, extra: string[] = []) {
  return startServer([
    "--db",
    "sqlite::memory:",
    "--tls-cert",
    certs.certFile,
    "--tls-key",
    certs.keyFile,
    ...extra,
  ]);
}

async function runClient(args: string[], script: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", CLIENT, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", TZ: "UTC" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

tlsTest("the real client registers, logs in and chats over TLS", async (certs) => {
  const server = await tlsServer(certs);
  try {
    assert.match(server.banner, / tls=on/);
    const tls = ["--tls", "--tls-ca", certs.caFile, "localhost", String(server.port)];
    const signup = await runClient(tls, "2\nann\npw\n2\nbob\npw\n");
    assert.equal(signup.code, 0, signup.stderr);
    const ann = await runClient(tls, "1\nann\npw\nchat:2:over tls\n");
    assert.equal(ann.code, 0, ann.stderr);
    assert.match(ann.stdout, /^sent$/m);
    const bob = await runClient(tls, "1\nbob\npw\n");
    assert.match(bob.stdout, /ann\(1\): over tls$/m);
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

tlsTest("a killed and restarted server: the client comes back with its token", async (certs) => {
  const dir = await Deno.makeTempDir();
  const args = [
    "--db",
    `sqlite:${dir}/chat.db`,
    "--tls-cert",
    certs.certFile,
    "--tls-key",
    certs.keyFile,
  ];
  let server = await startServer(args);
  const { port } = server;
  try {
    const tls = ["--tls", "--tls-ca", certs.caFile, "localhost", String(port)];
    assert.equal((await runClient(tls, "2\nann\npw\n")).code, 0);
    const ann = runClient(["--reconnect-timeout", "30", ...tls], "1\nann\npw\nsleep:6000\n");
    await waitFor(() => server.stderr().includes("user logged in"));
    await server.stop("SIGKILL");
    server = await startServer([...args, "--port", String(port)]);
    const run = await ann;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^connection to server lost; reconnecting\.\.\.$/m);
    assert.match(run.stdout, /^reconnected$/m);
    assert.match(server.stderr(), /user logged in .*with=token/, "the password was not sent again");
    assert.doesNotMatch(server.stderr(), /with=password/);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

tlsTest("an untrusted certificate is one line and exit 1; so is plaintext", async (certs) => {
  const server = await tlsServer(certs);
  try {
    const untrusted = await runClient(["--tls", "localhost", String(server.port)], "1\n");
    assert.equal(untrusted.code, 1);
    assert.match(
      untrusted.stderr,
      /^chatclient: cannot connect to localhost:\d+: the server's TLS certificate is not trusted \(UnknownIssuer\); give the certificate of the CA that signed it with --tls-ca FILE\n$/,
    );
    const plain = await startServer(["--db", "sqlite::memory:"]);
    try {
      const mismatch = await runClient(
        ["--tls", "--tls-ca", certs.caFile, "localhost", String(plain.port)],
        "1\n",
      );
      assert.equal(mismatch.code, 1);
      assert.match(mismatch.stderr, /^chatclient: cannot connect to .*TLS handshake failed .*\n$/);
    } finally {
      await plain.stop();
    }
  } finally {
    await server.stop();
  }
});

tlsTest("plaintext and garbage clients are dropped; a TLS client is unharmed", async (certs) => {
  const server = await tlsServer(certs);
  try {
    const good = await WireClient.connectTls(server.port, certs.caPem);
    const id = await good.register("ann");
    assert.equal((await good.login(id)).errno, 0);
    // One that says nothing (it holds no accept), one speaking the chat protocol in plaintext,
    // one sending HTTP, one random bytes.
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const plain = await WireClient.connect(server.port);
    await plain.writeBytes(
      new Uint8Array([0, 0, 0, 13, ...new TextEncoder().encode('{"msgid":15}')]),
    );
    const http = await WireClient.connect(server.port);
    await http.writeBytes(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const noise = await WireClient.connect(server.port);
    await noise.writeBytes(crypto.getRandomValues(new Uint8Array(4096)));
    await Promise.all([plain.closed, http.closed, noise.closed]);
    for (const client of [plain, http, noise]) assert.deepEqual(client.pushes, []);
    // A new TLS client gets in while the silent one still holds its socket.
    const late = await WireClient.connectTls(server.port, certs.caPem);
    assert.equal((await late.request({ msgid: 15 })).errno, 0);
    assert.equal((await good.request({ msgid: 15 })).errno, 0, "the logged-in client is fine");
    silent.close();
    for (const client of [good, late, plain, http, noise]) client.close();
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

tlsTest(
  "SIGHUP loads a renewed certificate; connections already open keep going",
  async (certs) => {
    const server = await tlsServer(certs);
    try {
      const before = await WireClient.connectTls(server.port, certs.caPem);
      // A new CA and certificate in the same files, as a renewal would leave them.
      const renewed = await makeCertificates(await Deno.makeTempDir({ prefix: "chat-tls-" }));
      try {
        await Deno.copyFile(renewed.certFile, certs.certFile);
        await Deno.copyFile(renewed.keyFile, certs.keyFile);
        server.process.kill("SIGHUP");
        await waitFor(() => server.stderr().includes("TLS certificate reloaded"));
        const after = await WireClient.connectTls(server.port, renewed.caPem);
        assert.equal((await after.request({ msgid: 15 })).errno, 0);
        await assert.rejects(
          WireClient.connectTls(server.port, certs.caPem),
          /invalid peer certificate/,
        );
        assert.equal((await before.request({ msgid: 15 })).errno, 0, "the old connection stays");
        after.close();
        // An unusable file leaves the server on the certificate it has.
        await Deno.writeTextFile(certs.certFile, "not a certificate");
        server.process.kill("SIGHUP");
        await waitFor(() => server.stderr().includes("TLS certificate not reloaded"));
        const still = await WireClient.connectTls(server.port, renewed.caPem);
        assert.equal((await still.request({ msgid: 15 })).errno, 0);
        still.close();
      } finally {
        await renewed.remove();
        before.close();
      }
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  },
);

tlsTest("a missing or unusable certificate is one line and exit 1", async (certs) => {
  const run = async (cert: string) => {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        SERVER,
        "0",
        "--db",
        "sqlite::memory:",
        "--tls-cert",
        cert,
        "--tls-key",
        certs.keyFile,
      ],
      env: { NO_COLOR: "1" },
    }).output();
    return { code, stderr: new TextDecoder().decode(stderr) };
  };
  const missing = await run(`${certs.dir}/nope.pem`);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^chatserver: cannot read --tls-cert .*nope\.pem: no such file\n$/);
  await Deno.writeTextFile(`${certs.dir}/bad.pem`, "not a certificate");
  const bad = await run(`${certs.dir}/bad.pem`);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^chatserver: cannot use --tls-cert\/--tls-key: .*\n$/);
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
