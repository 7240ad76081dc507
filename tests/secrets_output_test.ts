// No secret of any URL reaches any output: the start-up banner, error lines and config errors
// show a URL's password as "***". (The banner printed the Redis password before.)

import assert from "node:assert/strict";
import { parseServerArgs } from "../lib/config.ts";
import { redactUrl } from "../lib/redact.ts";
import { startServer } from "./support/server_process.ts";
import { serviceAvailable, tcpOpen } from "./support/services.ts";

const SECRET = "S3cret-pass_word";
const SERVER = new URL("../server.ts", import.meta.url).pathname;
const redisUp = await serviceAvailable("Redis at 127.0.0.1:6379", () => tcpOpen("127.0.0.1", 6379));

Deno.test("redact: a URL's password becomes ***, the rest stays", () => {
  assert.equal(redactUrl(`redis://default:${SECRET}@cache:6379`), "redis://default:***@cache:6379");
  assert.equal(redactUrl(`mysql://chat:${SECRET}@db:3306/chat`), "mysql://chat:***@db:3306/chat");
  assert.equal(redactUrl(`rediss://:${SECRET}@cache`), "rediss://:***@cache");
  assert.equal(redactUrl(`mysql://u:p@ss:${SECRET}@db/x`), "mysql://u:***@db/x", "an @ inside");
  assert.equal(redactUrl("redis://cache:6379"), "redis://cache:6379");
  assert.equal(redactUrl("redis://user@cache"), "redis://user@cache");
  assert.equal(redactUrl("sqlite:./chat.db"), "sqlite:./chat.db");
});

Deno.test("config errors never repeat a password", () => {
  for (
    const args of [["--db", `mysql://chat:${SECRET}@db`], ["--redis", `redis://u:${SECRET}@h/x`]]
  ) {
    assert.throws(() => parseServerArgs(args, () => undefined, () => "host"), (error: Error) => {
      assert.ok(!error.message.includes(SECRET), error.message);
      assert.match(error.message, /:\*\*\*@/);
      return true;
    });
  }
});

Deno.test("chatserver: a bad --db with a password exits 2 without printing it", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SERVER, "--db", `mysql://chat:${SECRET}@db`],
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 2);
  assert.ok(!text.includes(SECRET), text);
});

Deno.test({
  name: "chatserver: the start-up banner shows the Redis URL without its password",
  ignore: !redisUp,
  async fn() {
    const prefix = `secrets-test-${crypto.randomUUID()}:`;
    // Redis's default user without a password accepts any password, so this URL connects.
    const url = `redis://default:${SECRET}@127.0.0.1:6379`;
    const server = await startServer(["--db", "sqlite::memory:", "--redis", url], {
      CHAT_REDIS_PREFIX: prefix,
    });
    try {
      assert.match(server.banner, /cluster=redis:\/\/default:\*\*\*@127\.0\.0\.1:6379/);
      assert.ok(!server.banner.includes(SECRET), server.banner);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
    assert.ok(!server.stderr().includes(SECRET), server.stderr());
  },
});
